"""Enforcement that counts each estimate once and never lifts on stale spend: idempotent retries, a burst of
concurrent checks against one budget, and the daily check racing the real-time path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from finops.auth import principal_from_claims
from finops.budgets.enforcement import check_budget
from finops.budgets.models import EnforcementCheck
from finops.budgets.service import Budgets
from finops.budgets.spend import SpendReader
from finops.db import postgres as postgres_db
from tests.conftest import claims
from tests.integration.test_budgets import SYSTEM, B, check, create, event_types, spend

AI = "ai_generation"


@pytest.fixture
def stack(clickhouse, postgres):
    return clickhouse, postgres


def keyed_check(api, budget_id: str, key: str | None, estimate: float = 6, auth: Any = SYSTEM) -> tuple[int, Any]:
    status, body, _ = api(
        "check_budget_enforcement",
        "POST",
        f"{B}/budgets/{budget_id}/check-enforcement",
        auth=auth,
        body={"operationType": AI, "estimatedCostUsd": estimate},
        headers={"Idempotency-Key": key} if key else None,
    )
    return status, body


def reservations(postgres, budget_id: str) -> list[Decimal]:
    rows = postgres.run(
        "SELECT amount FROM finops_budget_reservations WHERE budget_id = CAST(:id AS uuid)", id=budget_id
    )
    return [row[0] for row in rows]


def test_a_retried_check_with_its_idempotency_key_answers_the_first_decision_and_reserves_once(stack, api, postgres):
    """Found by the review: budget 100, spend 90, a check of 6 sent twice was allowed once, then blocked."""
    _, budget, _ = create(api)
    spend(api, 90)
    first = keyed_check(api, budget["id"], "retry-1")
    again = keyed_check(api, budget["id"], "retry-1")
    assert first == again and first[0] == 200 and first[1]["allowed"] is True
    assert reservations(postgres, budget["id"]) == [Decimal(6)]
    # A new operation (a new key) is weighed with the first one's estimate in flight: 90 + 6 + 6 > 100.
    assert keyed_check(api, budget["id"], "retry-2")[1]["action"] == "block"
    # The same key for a different check is a client bug, not a replay.
    status, body = keyed_check(api, budget["id"], "retry-1", estimate=1)
    assert status == 422 and body["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_a_key_is_scoped_to_its_route_target(stack, api, postgres):
    _, one, _ = create(api, name="one")
    _, two, _ = create(api, name="two")
    spend(api, 90)
    assert keyed_check(api, one["id"], "same-key")[1]["allowed"] is True
    assert keyed_check(api, two["id"], "same-key")[1]["allowed"] is True
    assert reservations(postgres, one["id"]) == reservations(postgres, two["id"]) == [Decimal(6)]


def test_a_key_never_answers_for_a_budget_the_caller_may_not_check(stack, api, postgres):
    """Found by review: the stored decision was replayed before the caller was checked."""
    _, budget, _ = create(api)
    spend(api, 90)
    assert keyed_check(api, budget["id"], "acme-op-1")[1]["allowed"] is True
    globex_admin = claims("globex", "admin")
    assert keyed_check(api, budget["id"], "acme-op-1", auth=globex_admin)[0] == 404
    assert keyed_check(api, budget["id"], "acme-op-1", estimate=1, auth=globex_admin)[0] == 404


def test_a_retry_is_the_same_check_however_the_budget_id_is_spelled(stack, api, postgres):
    _, budget, _ = create(api)
    spend(api, 90)
    first = keyed_check(api, budget["id"], "spelled-1")
    assert keyed_check(api, budget["id"].upper(), "spelled-1") == first
    assert reservations(postgres, budget["id"]) == [Decimal(6)]


def test_a_malformed_idempotency_key_is_422(stack, api):
    _, budget, _ = create(api)
    status, body = keyed_check(api, budget["id"], "x" * 256)
    assert status == 422 and body["errors"][0]["loc"][-1] == "idempotency-key"


def run_concurrently(count: int, work: Callable[[Budgets], Any], clickhouse: Any) -> list[Any]:
    """`work` in `count` threads at once, each with its own PostgreSQL connection, as separate Lambda
    containers would; the in-process ClickHouse client is shared, its calls serialised."""
    results: list[Any] = []
    guard, start = threading.Lock(), threading.Barrier(count)

    class SerialReader(SpendReader):
        def spend(self, budgets, today):  # type: ignore[no-untyped-def]
            with guard:
                return super().spend(budgets, today)

    def one() -> None:
        connection = postgres_db.connect()
        try:
            service = Budgets(conn=connection, spend_reader=SerialReader(clickhouse))
            start.wait()
            result = work(service)
            with guard:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_concurrent_checks_admit_at_most_one_estimate_beyond_the_cap(stack, api, clickhouse):
    _, budget, _ = create(api)  # 100, block AI at 100%
    spend(api, 90)
    principal = principal_from_claims(SYSTEM)
    decisions = run_concurrently(
        50,
        lambda service: check_budget(
            service, principal, budget["id"], EnforcementCheck(operationType=AI, estimatedCostUsd=Decimal(1))
        ),
        clickhouse,
    )
    admitted = sum(1 for d in decisions if d.allowed)
    assert len(decisions) == 50 and not any(d.degraded for d in decisions)
    assert 90 + admitted * 1 <= 100 + 1  # at most one in-flight estimate beyond the cap
    assert admitted == 9  # 90 + 9 = 99; the tenth would reach the 100% enforce threshold


def test_concurrent_retries_of_one_check_reserve_once(stack, api, clickhouse, postgres):
    _, budget, _ = create(api)
    spend(api, 50)
    principal = principal_from_claims(SYSTEM)
    decisions = run_concurrently(
        10,
        lambda service: check_budget(
            service,
            principal,
            budget["id"],
            EnforcementCheck(operationType=AI, estimatedCostUsd=Decimal(5)),
            idempotency_key="burst-retry",
        ),
        clickhouse,
    )
    assert len({d.model_dump_json() for d in decisions}) == 1 and decisions[0].allowed
    assert reservations(postgres, budget["id"]) == [Decimal(5)]


def test_the_daily_check_never_lifts_enforcement_on_spend_older_than_the_decision(stack, api, monkeypatch):
    """Found by the review: the daily check read spend (990), forecast for seconds, while the real-time path
    blocked the budget at 1,010; the check then evaluated its older 990 and sent `enforcement_lifted`."""
    import finops.budgets.forecasts as forecasts

    _, budget, _ = create(api, amount=1000)
    spend(api, 990)
    original = forecasts.forecast_budgets

    def forecast_while_spend_arrives(*args: Any, **kwargs: Any) -> Any:
        spend(api, 20)  # ingestion evaluates right away: 1,010 of 1,000, enforced
        return original(*args, **kwargs)

    monkeypatch.setattr(forecasts, "forecast_budgets", forecast_while_spend_arrives)
    from tests.factories import run_scheduled

    run_scheduled("run_daily_budget_check", 2)
    types = event_types(api, budget["id"])
    assert "enforcement_lifted" not in types and types.count("threshold_enforce") == 1
    status, body, _ = api("get_budget_status", "GET", f"{B}/budgets/{budget['id']}/status", auth=SYSTEM)
    assert body["state"] == "enforced" and body["spent"] == 1010
    assert check(api, budget["id"])[1]["action"] == "block"
