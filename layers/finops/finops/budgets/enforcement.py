"""Enforcement checks, the platform's hot path: may an operation of this type and estimated cost spend against one
budget, or against every budget of a tenant that covers it? The answer weighs each budget's freshest spend plus
what allowed operations have reserved, and reserves the estimate when it allows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from finops.auth import Permission, Principal
from finops.budgets import store, store_enforcement
from finops.budgets.evaluation import evaluate, locked_with_spend
from finops.budgets.models import EnforcementCheck, EnforcementDecision
from finops.budgets.policy import covers, decide, percent_used, strictest
from finops.budgets.service import Budgets
from finops.budgets.spend import Spend
from finops.budgets.store import BudgetRecord
from finops.db.faults import as_unavailable
from finops.db.postgres import transaction
from finops.errors import InvalidRequest
from finops.models.common import CURRENCY
from finops.observability import add_count, logger
from finops.settings import get_settings


def check_budget(
    service: Budgets,
    principal: Principal,
    budget_id: str,
    check: EnforcementCheck,
    *,
    idempotency_key: str | None = None,
) -> EnforcementDecision:
    def budget_to_weigh() -> tuple[str, list[BudgetRecord]]:
        # The stored budget's id, not the path's spelling of it: a retry is the same check however the id is written.
        budget = service.visible(principal, budget_id, Permission.CHECK_ENFORCEMENT)
        return f"budget:{budget.id}", [budget]

    return _enforce(service, budget_to_weigh, check, idempotency_key)


def check_tenant(
    service: Budgets,
    principal: Principal,
    tenant_id: str,
    check: EnforcementCheck,
    *,
    idempotency_key: str | None = None,
) -> EnforcementDecision:
    principal.require(Permission.CHECK_ENFORCEMENT, tenant_id)
    return _enforce(
        service,
        lambda: (f"tenant:{tenant_id}", store.live_budgets(service.conn, tenants=[tenant_id])),
        check,
        idempotency_key,
    )


def _enforce(
    service: Budgets,
    authorized_budgets: Callable[[], tuple[str, list[BudgetRecord]]],
    check: EnforcementCheck,
    idempotency_key: str | None,
) -> EnforcementDecision:
    """Weigh an operation against budgets: spend is read from ClickHouse with no lock held, then, under the
    budgets' row locks, each one's state is brought up to date with the freshest reading and the operation's
    estimate is reserved if allowed. With an Idempotency-Key, a retried check answers the first decision and
    reserves nothing more: once the caller is authorized (`authorized_budgets` gives the check's scope and its
    budgets, or raises), so a key never answers for budgets the caller may not check. A database that is down gives
    the configured degraded answer instead of an error."""
    fingerprint = f"{check.operation_type}|{check.estimated_cost_usd.normalize()}"
    try:
        scope, budgets = authorized_budgets()
        if idempotency_key is not None and (answer := _replay(service, scope, idempotency_key, fingerprint)):
            return answer
        covering = [b for b in budgets if covers(b.policy_view, check.operation_type)]
        now = datetime.now(UTC)
        readings = service.spend_reader.spend(covering, now.date()) if covering else {}
        estimates = _estimates(service, covering, check.estimated_cost_usd, now.date())
        conn = service.conn
        with transaction(conn):
            fired = 0
            if idempotency_key is not None and not store_enforcement.claim_idempotency_key(
                conn, scope, idempotency_key, fingerprint
            ):
                replayed = None  # a concurrent duplicate committed first: answer what it answered
            else:
                decision, fired = _decide_locked(service, covering, readings, estimates, check, now)
                if idempotency_key is not None:
                    store_enforcement.save_idempotent_decision(
                        conn, scope, idempotency_key, decision.model_dump(mode="json", by_alias=True)
                    )
                replayed = decision
        if replayed is None:
            answer = _replay(service, scope, idempotency_key or "", fingerprint)
            assert answer is not None
            return answer
    except Exception as error:
        if (unavailable := as_unavailable(error)) is None:
            raise
        return _degraded(unavailable.dependency)
    if fired:  # publishing costs SNS calls: only when this check fired events (their alerts are in the outbox)
        service.notifier.after_commit(service.conn)
    return replayed


def _replay(service: Budgets, scope: str, key: str, fingerprint: str) -> EnforcementDecision | None:
    stored = store_enforcement.idempotent_decision(service.conn, scope, key)
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise InvalidRequest(
            "this Idempotency-Key was used for a different check; use a new key for a new operation",
            field="Idempotency-Key",
            location="header",
        )
    return EnforcementDecision.model_validate(stored.decision)


def _estimates(
    service: Budgets, budgets: Sequence[BudgetRecord], estimate_usd: Decimal, today: date
) -> dict[str, Decimal]:
    """The operation's estimate (USD) in each budget's currency, at today's rate; read before any lock."""
    foreign = [b for b in budgets if b.currency != CURRENCY and estimate_usd > 0]
    rates = service.exchange_rates() if foreign else None
    return {
        b.id: rates.convert(estimate_usd, CURRENCY, b.currency, today) if rates and b in foreign else estimate_usd
        for b in budgets
    }


def _decide_locked(
    service: Budgets,
    covering: Sequence[BudgetRecord],
    readings: dict[str, Spend],
    estimates: dict[str, Decimal],
    check: EnforcementCheck,
    now: datetime,
) -> tuple[EnforcementDecision, int]:
    """In the caller's transaction: lock the budgets, evaluate each with the freshest spend reading, weigh the
    operation with what is reserved, and reserve its estimate if it is allowed. Returns the decision and how many
    events the evaluations fired (their alerts are in the outbox)."""
    conn = service.conn
    weighed = locked_with_spend(conn, covering, readings)
    reserved = store_enforcement.reserved_amounts(conn, [budget.id for _, budget, _ in weighed], now)
    decisions = []
    fired = 0
    for _, budget, spend in weighed:
        fired += evaluate(conn, budget, spend, source="realtime")
        if spend.period is None:  # not started yet
            continue
        projected = spend.amount + reserved.get(budget.id, Decimal(0)) + estimates[budget.id]
        decisions.append(decide(budget.policy_view, check.operation_type, percent_used(projected, budget.amount)))
    decision = strictest(decisions)
    if decision.allowed and check.estimated_cost_usd > 0 and weighed:
        expires = now + timedelta(seconds=get_settings().reservation_ttl_seconds)
        store_enforcement.add_reservations(
            conn, {budget.id: estimates[budget.id] for _, budget, _ in weighed}, check.operation_type, expires
        )
    return decision, fired


def _degraded(dependency: str) -> EnforcementDecision:
    """The answer when a database is down, by ENFORCEMENT_FAIL_MODE; counted in EnforcementDegraded."""
    allow = get_settings().enforcement_fail_mode == "allow"
    logger.warning("enforcement degraded", extra={"dependency": dependency, "allowed": allow})
    add_count("EnforcementDegraded", 1)
    return EnforcementDecision(
        allowed=allow,
        action="allow" if allow else "block",
        reason=f"degraded: {dependency} is unavailable; {'allowed (fail open)' if allow else 'denied (fail closed)'}",
        degraded=True,
    )
