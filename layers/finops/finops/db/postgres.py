"""PostgreSQL through pg8000: one connection per container, created on first use, and the migration runner.

`DATABASE_URL` (`postgresql://user:pw@host:port/db`, or `postgresql://user@/db?host=/socket/dir` for a Unix
socket) or, in AWS, `DATABASE_SECRET_ARN` (an RDS secret). All tables live in `DATABASE_SCHEMA`.

Usage: python -m finops.db.postgres [--sql-dir sql/postgres]   (applies what is new)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.native

from finops.db.migrate import split_statements
from finops.settings import get_settings

_lock = threading.Lock()
_connection: pg8000.native.Connection | None = None
_FILE_PATTERN = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def named_rows(conn: pg8000.native.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a statement keyed by column name (pg8000's native rows are lists, read by position otherwise):
    stores map them to typed rows by name, so a column added or moved in a SELECT cannot shift another."""
    rows = conn.run(sql, **params)
    names = [column["name"] for column in conn.columns or ()]
    return [dict(zip(names, row, strict=True)) for row in rows or ()]


def unnest(**column_types: str) -> str:
    """`unnest(CAST(:a AS type[]), ...) AS u(a, ...)`: array parameters named like the columns, one element a row,
    so many rows are written in one statement (`unnest(id="uuid", spent="numeric")`, then `id=[...], spent=[...]`)."""
    arrays = ", ".join(f"CAST(:{column} AS {type_}[])" for column, type_ in column_types.items())
    return f"unnest({arrays}) AS u({', '.join(column_types)})"


@contextlib.contextmanager
def transaction(conn: pg8000.native.Connection) -> Iterator[pg8000.native.Connection]:
    """One transaction on `conn`: committed when the block ends, rolled back when it raises."""
    conn.run("BEGIN")
    try:
        yield conn
    except BaseException:
        conn.run("ROLLBACK")
        raise
    conn.run("COMMIT")


@contextlib.contextmanager
def savepoint(conn: pg8000.native.Connection) -> Iterator[pg8000.native.Connection]:
    """A savepoint in the caller's transaction: released when the block ends, rolled back to when it raises (the
    error goes on; what the transaction did before the block stays)."""
    conn.run("SAVEPOINT step")
    try:
        yield conn
    except BaseException:
        conn.run("ROLLBACK TO SAVEPOINT step")
        raise
    conn.run("RELEASE SAVEPOINT step")


def get_connection() -> pg8000.native.Connection:
    """The container's connection, re-opened if the server closed it."""
    global _connection
    with _lock:
        if _connection is not None:
            try:
                _connection.run("SELECT 1")
            except (pg8000.exceptions.InterfaceError, pg8000.exceptions.DatabaseError, OSError):
                _close_quietly(_connection)
                _connection = None
        if _connection is None:
            _connection = connect()
        return _connection


def connect(*, schema: str | None = None) -> pg8000.native.Connection:
    settings = get_settings()
    params = _connection_params()
    # The socket timeout covers connecting and a server that stops answering; the server-side timeouts make
    # PostgreSQL give up on a slow statement or a lock it cannot get (both answered 503 by finops.db.faults).
    # The socket waits a little longer than a statement may run, so the server's clearer error comes first.
    params["timeout"] = max(
        settings.postgres_connect_timeout_seconds, settings.postgres_statement_timeout_ms / 1000 + 2
    )
    params["startup_params"] = {
        "statement_timeout": str(settings.postgres_statement_timeout_ms),
        "lock_timeout": str(settings.postgres_lock_timeout_ms),
    }
    connection = pg8000.native.Connection(**params)
    schema = schema or settings.database_schema
    connection.run(f"CREATE SCHEMA IF NOT EXISTS {schema}")  # schema name validated by the settings pattern
    connection.run(f"SET search_path TO {schema}, public")
    return connection


def reset_connection() -> None:
    global _connection
    with _lock:
        if _connection is not None:
            _close_quietly(_connection)
        _connection = None


def _connection_params() -> dict[str, Any]:
    settings = get_settings()
    if settings.database_url:
        return parse_database_url(settings.database_url)
    if settings.database_secret_arn:
        import boto3  # only deployments on RDS pay for importing boto3

        secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId=settings.database_secret_arn)["SecretString"]
        )
        return {
            "user": secret["username"],
            "password": secret["password"],
            "host": secret["host"],
            "port": int(secret.get("port", 5432)),
            "database": secret.get("dbname", "postgres"),
            "ssl_context": True,
        }
    raise RuntimeError("no PostgreSQL configured: set DATABASE_URL or DATABASE_SECRET_ARN")


def parse_database_url(url: str) -> dict[str, Any]:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    query = parse_qs(parsed.query)
    params: dict[str, Any] = {
        "user": unquote(parsed.username or "postgres"),
        "database": (parsed.path or "/postgres").lstrip("/") or "postgres",
    }
    if parsed.password:
        params["password"] = unquote(parsed.password)
    socket_dir = query.get("host", [None])[0]
    if socket_dir and socket_dir.startswith("/"):
        params["unix_sock"] = f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}"
    else:
        params["host"] = parsed.hostname or "localhost"
        params["port"] = parsed.port or 5432
    return params


def apply_migrations(connection: pg8000.native.Connection, sql_dir: Path) -> list[str]:
    """Apply the numbered files of `sql_dir` not yet recorded, each in its own transaction."""
    connection.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    connection.run("SELECT pg_advisory_lock(4242)")  # two starters racing apply each file once
    try:
        applied = {
            row["version"]: row["checksum"]
            for row in named_rows(connection, "SELECT version, checksum FROM schema_migrations")
        }
        done = []
        for path in sorted(sql_dir.glob("*.sql")):
            match = _FILE_PATTERN.match(path.name)
            if not match:
                raise ValueError(f"migration file name must look like NNN_name.sql: {path.name}")
            version, text = int(match.group(1)), path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if version in applied:
                if applied[version] != checksum:
                    raise RuntimeError(f"migration {path.name} changed after it was applied; add a new one instead")
                continue
            connection.run("BEGIN")
            try:
                for statement in split_statements(text):
                    connection.run(statement)
                connection.run(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)",
                    v=version,
                    n=path.stem,
                    c=checksum,
                )
                connection.run("COMMIT")
            except Exception:
                connection.run("ROLLBACK")
                raise
            done.append(path.stem)
        return done
    finally:
        connection.run("SELECT pg_advisory_unlock(4242)")


def _close_quietly(connection: pg8000.native.Connection) -> None:
    with contextlib.suppress(Exception):  # the connection is being dropped anyway
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sql-dir", type=Path, default=Path("sql/postgres"))
    args = parser.parse_args(argv)
    applied = apply_migrations(connect(), args.sql_dir)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none new'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
