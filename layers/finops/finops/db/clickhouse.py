"""The ClickHouse client: one per container, created on first use.

`CLICKHOUSE_URL` chooses the engine: `chdb:///abs/dir` (or `chdb://memory`) runs ClickHouse in-process
through clickhouse-connect's chDB backend (local stack and tests); `https://host:8443` talks to a server or
cluster, with the user and password from the Secrets Manager secret named by `CLICKHOUSE_SECRET_ARN`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from finops.settings import get_settings

Row = TypeVar("Row")

_lock = threading.Lock()
_client: Client | None = None


def get_client() -> Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = connect(database=get_settings().clickhouse_database)
    return _client


class LazyClient:
    """Stands for the container's client and connects on first use: a handler receives it before its body checks the
    caller, so a request refused there (403) never waits for ClickHouse nor fails on it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_client(), name)


def lazy_client() -> Client:
    return cast(Client, LazyClient())


def connect(database: str | None = None) -> Client:
    """A new client on the configured engine; `database=None` for server-level statements."""
    settings = get_settings()
    url = settings.clickhouse_url
    kwargs: dict[str, Any] = {}
    if database:
        kwargs["database"] = database
    # The engine stops a query at max_execution_time (TIMEOUT_EXCEEDED); over HTTP the socket waits a little
    # longer, so the server's error comes first. Both are answered 503 by finops.db.faults.
    query_timeout = settings.clickhouse_query_timeout_seconds
    kwargs["settings"] = {"max_execution_time": query_timeout}
    if url.startswith("chdb://"):
        path = url.removeprefix("chdb://")
        if path and path != "memory":
            kwargs["path"] = path
        return clickhouse_connect.get_client(interface="chdb", **kwargs)
    if settings.clickhouse_secret_arn:
        kwargs.update(_credentials(settings.clickhouse_secret_arn))
    return clickhouse_connect.get_client(
        dsn=url,
        connect_timeout=settings.clickhouse_connect_timeout_seconds,
        send_receive_timeout=query_timeout + 2,
        **kwargs,
    )


def typed_rows(
    client: Client, row: Callable[..., Row], sql: str, parameters: dict[str, Any] | None = None
) -> list[Row]:
    """The rows of a query, each built by column name: `row` is a NamedTuple or a pydantic model whose fields are the
    query's column names, so a column added or renamed in the SQL fails loudly (TypeError) instead of shifting values
    or being dropped; a field the query leaves out takes its default, or fails if it has none."""
    result = client.query(sql, parameters=parameters)
    names = tuple(result.column_names)
    tuple_fields = getattr(row, "_fields", None)  # a NamedTuple's
    fields = tuple_fields or tuple(getattr(row, "model_fields", ()))
    if unknown := [name for name in names if name not in fields]:
        raise TypeError(f"{getattr(row, '__name__', row)} has no field for the columns {unknown}")
    if tuple_fields == names:
        # A NamedTuple of exactly these columns in this order: each row maps field by field, four times faster
        # than by keyword (a report's rows are thousands at most, but every report reads them).
        make: Callable[[Sequence[Any]], Row] = getattr(row, "_make")  # noqa: B009 (not on the Callable type)
        return list(map(make, result.result_rows))
    return [row(**dict(zip(names, values, strict=True))) for values in result.result_rows]


def insert_version(client: Client, table: str, rows: Sequence[Any], columns: Sequence[str], **same: Any) -> int:
    """Store `rows` as the next version of a versioned table, one with `version` and `published_at` columns (the rate
    card, the exchange rates): each row's attributes named `columns`, and the values of `same` in every row. Returns
    that version. `table` and the column names are constants of the code, never user input."""
    version = int(str(client.command(f"SELECT max(version) FROM {table}") or 0)) + 1
    published_at = datetime.now(UTC)
    client.insert(
        table,
        [[version, *(getattr(row, column) for column in columns), *same.values(), published_at] for row in rows],
        column_names=["version", *columns, *same, "published_at"],
    )
    return version


def reset_client() -> None:
    """Drop the cached client (tests switch databases; the local server reloads settings)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
        _client = None


def _credentials(secret_arn: str) -> dict[str, str]:
    import boto3  # only deployments with a secret pay for importing boto3

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    values = json.loads(secret["SecretString"])
    return {"username": values["username"], "password": values["password"]}
