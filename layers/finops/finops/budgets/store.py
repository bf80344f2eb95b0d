"""PostgreSQL access for budgets, their audit trail, spend snapshots and reservations (pg8000, named params)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pg8000.exceptions import DatabaseError
from pg8000.native import Connection

from finops.budgets.models import Budget, BudgetCreate, BudgetEvent, BudgetPolicy
from finops.budgets.policy import DueEvent, PolicyView
from finops.errors import Conflict, InvalidRequest
from finops.models.common import CURRENCY

_BUDGET_COLUMNS = (
    "id, tenant_id, name, amount, period, start_date, categories, models, regions, services, notify_threshold, "
    "enforce_threshold, actions, notify_emails, admin_emails, rate_limit_factor, version, threshold_generation, "
    "state, period_start, spent, spend_as_of, created_by, created_at, updated_at, deleted_at, forecasted_spend, "
    "forecast_exceed_probability, forecast_breach_date, forecast_as_of, currency"
)
_EVENT_COLUMNS = (
    "id, budget_id, event_type, severity, period_start, threshold_percent, spent, amount, percent_used, actor, "
    "source, details, created_at"
)


@dataclass(frozen=True)
class BudgetRecord:
    id: str
    tenant_id: str
    name: str
    amount: Decimal
    period: str
    start_date: date
    categories: tuple[str, ...]
    models: tuple[str, ...]
    regions: tuple[str, ...]
    services: tuple[str, ...]
    notify_threshold: Decimal
    enforce_threshold: Decimal | None
    actions: tuple[str, ...]
    notify_emails: tuple[str, ...]
    admin_emails: tuple[str, ...]
    rate_limit_factor: Decimal | None
    version: int
    threshold_generation: int
    state: str
    period_start: date | None
    spent: Decimal
    spend_as_of: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    forecasted_spend: Decimal | None = None
    forecast_exceed_probability: Decimal | None = None
    forecast_breach_date: date | None = None
    forecast_as_of: datetime | None = None
    currency: str = CURRENCY

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> BudgetRecord:
        values = list(row)
        values[0] = str(values[0])
        for index in (6, 7, 8, 9, 12, 13, 14):
            values[index] = tuple(values[index] or ())
        return cls(*values)

    @property
    def policy_view(self) -> PolicyView:
        return PolicyView(
            id=self.id,
            amount=self.amount,
            notify_threshold=self.notify_threshold,
            enforce_threshold=self.enforce_threshold,
            actions=self.actions,
            rate_limit_factor=self.rate_limit_factor,
            categories=self.categories,
        )

    def to_api(self) -> Budget:
        return Budget(
            id=self.id,
            tenant_id=self.tenant_id,
            name=self.name,
            amount=self.amount,
            currency=self.currency,
            period=self.period,  # type: ignore[arg-type]
            categories=list(self.categories),  # type: ignore[arg-type]
            models=list(self.models),
            regions=list(self.regions),
            services=list(self.services),
            policy=BudgetPolicy(
                notifyThreshold=self.notify_threshold,
                enforceThreshold=self.enforce_threshold,
                actions=list(self.actions),  # type: ignore[arg-type]
                notifyEmails=list(self.notify_emails),
                adminEmails=list(self.admin_emails),
                rateLimitFactor=self.rate_limit_factor,
            ),
            start_date=self.start_date,
            version=self.version,
            created_at=self.created_at,
            updated_at=self.updated_at,
            deleted_at=self.deleted_at,
        )


def parse_budget_id(value: str) -> str | None:
    """The canonical form of a budget id, or None when it cannot be one (answered as not found)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def insert_budget(conn: Connection, request: BudgetCreate, *, actor: str) -> BudgetRecord:
    policy = request.policy
    try:
        rows = conn.run(
            f"INSERT INTO finops_budgets (tenant_id, name, amount, period, start_date, categories, models, regions, "
            f"services, notify_threshold, enforce_threshold, actions, notify_emails, admin_emails, rate_limit_factor, "
            f"created_by, currency) VALUES (:tenant, :name, :amount, :period, :start, :categories, :models, :regions, "
            f":services, :notify, :enforce, :actions, :notify_emails, :admin_emails, :factor, :actor, :currency) "
            f"RETURNING {_BUDGET_COLUMNS}",
            tenant=request.tenant_id,
            name=request.name,
            amount=request.amount,
            period=request.period,
            start=request.start_date,
            categories=[c.value for c in request.categories],
            models=request.models,
            regions=request.regions,
            services=request.services,
            notify=policy.notify_threshold,
            enforce=policy.enforce_threshold,
            actions=list(policy.actions),
            notify_emails=policy.notify_emails,
            admin_emails=policy.admin_emails,
            factor=policy.rate_limit_factor,
            actor=actor,
            currency=request.currency,
        )
    except DatabaseError as error:
        raise _domain_error(error) from error
    return BudgetRecord.from_row(rows[0])


def get_budget(conn: Connection, budget_id: str, *, for_update: bool = False) -> BudgetRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    rows = conn.run(f"SELECT {_BUDGET_COLUMNS} FROM finops_budgets WHERE id = :id{lock}", id=budget_id)
    return BudgetRecord.from_row(rows[0]) if rows else None


def list_budgets(conn: Connection, tenant_id: str, *, include_deleted: bool = False) -> list[BudgetRecord]:
    live = "" if include_deleted else " AND deleted_at IS NULL"
    rows = conn.run(
        f"SELECT {_BUDGET_COLUMNS} FROM finops_budgets WHERE tenant_id = :tenant{live} ORDER BY created_at, id",
        tenant=tenant_id,
    )
    return [BudgetRecord.from_row(r) for r in rows]


def live_budgets(
    conn: Connection, *, tenants: Sequence[str] | None = None, for_update: bool = False
) -> list[BudgetRecord]:
    """Live budgets (of some tenants, or all), in id order so that row locks are always taken in one order."""
    where = "deleted_at IS NULL" + (" AND tenant_id = ANY(:tenants)" if tenants is not None else "")
    lock = " FOR UPDATE" if for_update else ""
    params: dict[str, Any] = {"tenants": list(tenants)} if tenants is not None else {}
    rows = conn.run(f"SELECT {_BUDGET_COLUMNS} FROM finops_budgets WHERE {where} ORDER BY id{lock}", **params)
    return [BudgetRecord.from_row(r) for r in rows]


def lock_budgets(conn: Connection, budgets: Sequence[BudgetRecord]) -> dict[str, BudgetRecord]:
    """Lock some budgets (in id order, like every other locking read) and return them as they are now.

    One narrow read: the columns an evaluation changes (state, spend) are refreshed on the records given;
    a budget whose version moved on since they were read (updated or soft-deleted) is re-read whole, and one
    that is gone is left out."""
    if not budgets:
        return {}
    given = {b.id: b for b in budgets}
    rows = conn.run(
        "SELECT id, version, state, period_start, spent, spend_as_of FROM finops_budgets "
        "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE",
        ids=list(given),
    )
    current: dict[str, BudgetRecord] = {}
    moved_on = []
    for budget_id, version, state, period_start, spent, spend_as_of in rows:
        budget = given[str(budget_id)]
        if version != budget.version:
            moved_on.append(budget.id)
            continue
        current[budget.id] = replace(
            budget, state=state, period_start=period_start, spent=spent, spend_as_of=spend_as_of
        )
    if moved_on:
        for row in conn.run(
            f"SELECT {_BUDGET_COLUMNS} FROM finops_budgets WHERE id = ANY(CAST(:ids AS uuid[]))", ids=moved_on
        ):
            record = BudgetRecord.from_row(row)
            current[record.id] = record
    return current


def update_budget(
    conn: Connection, budget: BudgetRecord, changes: dict[str, Any], *, bump_generation: bool
) -> BudgetRecord:
    """Apply column changes and bump the version; the caller holds the row lock and checked the version."""
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    generation = ", threshold_generation = threshold_generation + 1" if bump_generation else ""
    try:
        rows = conn.run(
            f"UPDATE finops_budgets SET {assignments}{generation}, version = version + 1, updated_at = now() "
            f"WHERE id = :id AND version = :version RETURNING {_BUDGET_COLUMNS}",
            id=budget.id,
            version=budget.version,
            **changes,
        )
    except DatabaseError as error:
        raise _domain_error(error) from error
    return BudgetRecord.from_row(rows[0])


def soft_delete(conn: Connection, budget: BudgetRecord) -> None:
    conn.run(
        "UPDATE finops_budgets SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = :id",
        id=budget.id,
    )


def hard_delete(conn: Connection, budget: BudgetRecord) -> None:
    conn.run("DELETE FROM finops_budgets WHERE id = :id", id=budget.id)


@dataclass(frozen=True)
class Evaluation:
    budget_id: str
    spent: Decimal
    as_of: datetime
    state: str
    period_start: date


def save_evaluations(conn: Connection, evaluations: Sequence[Evaluation]) -> None:
    """Store the state spend put budgets in (spend, when it was read, state, period), in one statement."""
    if not evaluations:
        return
    conn.run(
        "UPDATE finops_budgets AS b SET spent = u.spent, spend_as_of = u.as_of, state = u.state, "
        "period_start = u.period_start "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:spent AS numeric[]), CAST(:as_of AS timestamptz[]), "
        "CAST(:state AS text[]), CAST(:period_start AS date[])) AS u(id, spent, as_of, state, period_start) "
        "WHERE b.id = u.id",
        ids=[e.budget_id for e in evaluations],
        spent=[e.spent for e in evaluations],
        as_of=[e.as_of for e in evaluations],
        state=[e.state for e in evaluations],
        period_start=[e.period_start for e in evaluations],
    )


@dataclass(frozen=True)
class ForecastValues:
    budget_id: str
    expected_spend: Decimal | None
    probability: float | None
    breach_date: date | None
    as_of: datetime


def save_forecasts(conn: Connection, forecasts: Sequence[ForecastValues]) -> None:
    """Store budgets' period forecasts (or clear stale ones), in one statement."""
    if not forecasts:
        return
    conn.run(
        "UPDATE finops_budgets AS b SET forecasted_spend = u.spend, forecast_exceed_probability = u.probability, "
        "forecast_breach_date = u.breach, forecast_as_of = u.as_of "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:spend AS numeric[]), CAST(:probability AS numeric[]), "
        "CAST(:breach AS date[]), CAST(:as_of AS timestamptz[])) AS u(id, spend, probability, breach, as_of) "
        "WHERE b.id = u.id",
        ids=[f.budget_id for f in forecasts],
        spend=[f.expected_spend for f in forecasts],
        probability=[Decimal(str(f.probability)) if f.probability is not None else None for f in forecasts],
        breach=[f.breach_date for f in forecasts],
        as_of=[f.as_of for f in forecasts],
    )


def record_event(
    conn: Connection,
    budget: BudgetRecord,
    *,
    event_type: str,
    severity: str,
    source: str,
    actor: str = "",
    period_start: date | None = None,
    threshold_percent: Decimal | None = None,
    spent: Decimal | None = None,
    percent_used: Decimal | None = None,
    details: dict[str, Any] | None = None,
) -> str | None:
    """Append to the audit trail; None when a once-per-period event was already recorded (by either path)."""
    rows = conn.run(
        "INSERT INTO finops_budget_events (budget_id, tenant_id, event_type, severity, period_start, "
        "threshold_generation, threshold_percent, spent, amount, percent_used, actor, source, details) "
        "VALUES (:budget, :tenant, :type, :severity, :period_start, :generation, :threshold, :spent, :amount, "
        ":percent, :actor, :source, CAST(:details AS jsonb)) "
        "ON CONFLICT DO NOTHING RETURNING id",
        budget=budget.id,
        tenant=budget.tenant_id,
        type=event_type,
        severity=severity,
        period_start=period_start,
        generation=budget.threshold_generation if event_type != "period_rollover" else 0,
        threshold=threshold_percent,
        spent=spent,
        amount=budget.amount,
        percent=percent_used,
        actor=actor,
        source=source,
        details=json.dumps(details or {}, default=str),
    )
    return str(rows[0][0]) if rows else None


@dataclass(frozen=True)
class NewEvent:
    """An event for `record_events`; the arguments of `record_event`."""

    budget: BudgetRecord
    event_type: str
    severity: str
    source: str
    period_start: date | None = None
    threshold_percent: Decimal | None = None
    spent: Decimal | None = None
    percent_used: Decimal | None = None
    details: dict[str, Any] | None = None


def record_events(conn: Connection, events: Sequence[NewEvent]) -> dict[tuple[str, str], str]:
    """`record_event` for many events (at most one per budget and type) in one statement. Returns the ids of
    those recorded by (budget id, event type); once-per-period events already recorded are left out."""
    if not events:
        return {}
    rows = conn.run(
        "INSERT INTO finops_budget_events (budget_id, tenant_id, event_type, severity, period_start, "
        "threshold_generation, threshold_percent, spent, amount, percent_used, actor, source, details) "
        "SELECT budget_id, tenant_id, event_type, severity, period_start, generation, threshold, spent, amount, "
        "percent, '', source, details FROM unnest(CAST(:budgets AS uuid[]), CAST(:tenants AS text[]), "
        "CAST(:event_types AS text[]), CAST(:severities AS text[]), CAST(:period_starts AS date[]), "
        "CAST(:generations AS integer[]), CAST(:thresholds AS numeric[]), CAST(:spent AS numeric[]), "
        "CAST(:amounts AS numeric[]), CAST(:percents AS numeric[]), CAST(:sources AS text[]), "
        "CAST(:details AS jsonb[])) AS u(budget_id, tenant_id, event_type, severity, period_start, generation, "
        "threshold, spent, amount, percent, source, details) "
        "ON CONFLICT DO NOTHING RETURNING id, budget_id, event_type",
        budgets=[e.budget.id for e in events],
        tenants=[e.budget.tenant_id for e in events],
        event_types=[e.event_type for e in events],
        severities=[e.severity for e in events],
        period_starts=[e.period_start for e in events],
        generations=[e.budget.threshold_generation if e.event_type != "period_rollover" else 0 for e in events],
        thresholds=[e.threshold_percent for e in events],
        spent=[e.spent for e in events],
        amounts=[e.budget.amount for e in events],
        percents=[e.percent_used for e in events],
        sources=[e.source for e in events],
        details=[json.dumps(e.details or {}, default=str) for e in events],
    )
    return {(str(budget_id), event_type): str(event_id) for event_id, budget_id, event_type in rows}


def record_due_event(
    conn: Connection,
    budget: BudgetRecord,
    due: DueEvent,
    *,
    period_start: date,
    spent: Decimal,
    percent: Decimal,
    source: str,
) -> str | None:
    return record_event(
        conn,
        budget,
        event_type=due.event_type,
        severity=due.severity,
        source=source,
        period_start=period_start,
        threshold_percent=due.threshold_percent,
        spent=spent,
        percent_used=percent,
    )


def list_events(
    conn: Connection, budget_id: str, *, limit: int, cursor: str | None
) -> tuple[list[BudgetEvent], str | None]:
    """Newest first; the cursor is the (created_at, id) of the last event of the previous page."""
    params: dict[str, Any] = {"budget": budget_id, "limit": limit + 1}
    after = ""
    if cursor:
        created_at, event_id = _decode_cursor(cursor)
        after = " AND (created_at, id) < (:created_at, CAST(:event_id AS uuid))"
        params.update(created_at=created_at, event_id=event_id)
    rows = conn.run(
        f"SELECT {_EVENT_COLUMNS} FROM finops_budget_events WHERE budget_id = :budget{after} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit",
        **params,
    )
    events = [
        BudgetEvent(
            id=str(r[0]),
            budget_id=str(r[1]),
            event_type=r[2],
            severity=r[3],
            period_start=r[4],
            threshold_percent=float(r[5]) if r[5] is not None else None,
            spent=r[6],
            amount=r[7],
            percent_used=float(r[8]) if r[8] is not None else None,
            actor=r[9],
            source=r[10],
            details=r[11] if isinstance(r[11], dict) else json.loads(r[11] or "{}"),
            created_at=r[12],
        )
        for r in rows[:limit]
    ]
    next_cursor = _encode_cursor(rows[limit - 1][12], str(rows[limit - 1][0])) if len(rows) > limit else None
    return events, next_cursor


def reserved_amounts(conn: Connection, budget_ids: Sequence[str], now: datetime) -> dict[str, Decimal]:
    if not budget_ids:
        return {}
    rows = conn.run(
        "SELECT budget_id, sum(amount) FROM finops_budget_reservations "
        "WHERE budget_id = ANY(CAST(:ids AS uuid[])) AND expires_at > :now GROUP BY budget_id",
        ids=list(budget_ids),
        now=now,
    )
    return {str(r[0]): Decimal(r[1]) for r in rows}


def add_reservations(conn: Connection, amounts: dict[str, Decimal], operation_type: str, expires_at: datetime) -> None:
    """Reserve an allowed operation's estimated cost against several budgets (each in its own currency), in one
    statement."""
    if not amounts:
        return
    conn.run(
        "INSERT INTO finops_budget_reservations (budget_id, amount, operation_type, expires_at) "
        "SELECT id, amount, :operation, :expires "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:amounts AS numeric[])) AS r(id, amount)",
        ids=list(amounts),
        amounts=list(amounts.values()),
        operation=operation_type,
        expires=expires_at,
    )


def subscribed_topics(conn: Connection, budget_id: str) -> list[str]:
    """The topics on which the budget has e-mail subscriptions recorded."""
    rows = conn.run(
        "SELECT DISTINCT topic FROM finops_budget_subscriptions WHERE budget_id = CAST(:id AS uuid)", id=budget_id
    )
    return sorted(str(row[0]) for row in rows)


def purge_expired_reservations(conn: Connection, now: datetime) -> None:
    conn.run("DELETE FROM finops_budget_reservations WHERE expires_at <= :now", now=now)
    conn.run(
        "DELETE FROM finops_enforcement_checks WHERE created_at < :since",
        since=now - timedelta(hours=IDEMPOTENCY_KEY_HOURS),
    )


# How long an enforcement check's Idempotency-Key is remembered (a retry comes within seconds or minutes).
IDEMPOTENCY_KEY_HOURS = 24


@dataclass(frozen=True)
class StoredDecision:
    fingerprint: str
    decision: dict[str, Any]


def claim_idempotency_key(conn: Connection, scope: str, key: str, fingerprint: str) -> bool:
    """Take the key for this check inside the caller's transaction; False when another check holds it (a
    concurrent duplicate blocks here until the first commits, then finds the key taken)."""
    rows = conn.run(
        "INSERT INTO finops_enforcement_checks (scope, idempotency_key, fingerprint) VALUES (:scope, :key, :fp) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        scope=scope,
        key=key,
        fp=fingerprint,
    )
    return bool(rows)


def save_idempotent_decision(conn: Connection, scope: str, key: str, decision: dict[str, Any]) -> None:
    conn.run(
        "UPDATE finops_enforcement_checks SET decision = CAST(:decision AS jsonb) "
        "WHERE scope = :scope AND idempotency_key = :key",
        scope=scope,
        key=key,
        decision=json.dumps(decision),
    )


def idempotent_decision(conn: Connection, scope: str, key: str) -> StoredDecision | None:
    """The decision a check with this key answered, if one did (and is still remembered)."""
    rows = conn.run(
        "SELECT fingerprint, decision FROM finops_enforcement_checks "
        "WHERE scope = :scope AND idempotency_key = :key AND decision IS NOT NULL",
        scope=scope,
        key=key,
    )
    if not rows:
        return None
    fingerprint, decision = rows[0]
    return StoredDecision(fingerprint, decision if isinstance(decision, dict) else json.loads(decision))


@dataclass(frozen=True)
class Snapshot:
    budget: BudgetRecord
    period_start: date
    spent: Decimal
    percent: Decimal


def upsert_spend_snapshots(conn: Connection, snapshots: Sequence[Snapshot], *, snapshot_date: date) -> None:
    """The day's spend snapshot of budgets (each at most once), upserted in one statement."""
    if not snapshots:
        return
    conn.run(
        "INSERT INTO finops_budget_spend_history (budget_id, snapshot_date, tenant_id, period_start, spent, amount, "
        "percent_used) SELECT u.budget_id, :day, u.tenant_id, u.period_start, u.spent, u.amount, u.percent "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:tenants AS text[]), CAST(:period_starts AS date[]), "
        "CAST(:spent AS numeric[]), CAST(:amounts AS numeric[]), CAST(:percents AS numeric[])) "
        "AS u(budget_id, tenant_id, period_start, spent, amount, percent) "
        "ON CONFLICT (budget_id, snapshot_date) DO UPDATE SET spent = EXCLUDED.spent, amount = EXCLUDED.amount, "
        "percent_used = EXCLUDED.percent_used, period_start = EXCLUDED.period_start, recorded_at = now()",
        day=snapshot_date,
        ids=[s.budget.id for s in snapshots],
        tenants=[s.budget.tenant_id for s in snapshots],
        period_starts=[s.period_start for s in snapshots],
        spent=[s.spent for s in snapshots],
        amounts=[s.budget.amount for s in snapshots],
        percents=[s.percent for s in snapshots],
    )


def _encode_cursor(created_at: datetime, event_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{event_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created_at), str(uuid.UUID(event_id))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest("not a cursor returned by this endpoint", field="cursor") from error


def _domain_error(error: DatabaseError) -> Exception:
    """Constraint violations become 4xx answers; anything else stays a server error."""
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    code, constraint = details.get("C"), details.get("n", "")
    if code == "23505" and "live_name" in constraint:
        return Conflict("a live budget with this name already exists for the tenant")
    if code in ("23514", "23502"):
        return InvalidRequest(f"the budget breaks the rule {constraint or details.get('M', '')}", location="body")
    return error  # type: ignore[no-any-return]
