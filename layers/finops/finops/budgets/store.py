"""PostgreSQL: the budgets table (with what evaluations and forecasts save on it), spend snapshots and the
topics of e-mail subscriptions. Rows are read by column name into `BudgetRecord`.

The audit trail is in `store_events`, enforcement's reservations and idempotency keys in `store_enforcement`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pg8000.exceptions import DatabaseError
from pg8000.native import Connection

from finops.budgets.models import Budget, BudgetCreate, BudgetPolicy, BudgetUpdate
from finops.budgets.policy import PolicyView
from finops.db.postgres import named_rows, unnest
from finops.errors import Conflict, InvalidRequest
from finops.models.common import CURRENCY


@dataclass(frozen=True)
class BudgetRecord:
    """A row of finops_budgets: one field a column, of the same name."""

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
    def from_row(cls, row: Mapping[str, Any]) -> BudgetRecord:
        """A row of a SELECT of `_SELECT`, keyed by column name."""
        values = dict(row)
        values["id"] = str(row["id"])
        for column in _ARRAY_COLUMNS:
            values[column] = tuple(row[column] or ())
        return cls(**values)

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


_SELECT = ", ".join(field.name for field in fields(BudgetRecord))
_ARRAY_COLUMNS = ("categories", "models", "regions", "services", "actions", "notify_emails", "admin_emails")


def parse_budget_id(value: str) -> str | None:
    """The canonical form of a budget id, or None when it cannot be one (answered as not found)."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def insert_budget(conn: Connection, request: BudgetCreate, *, actor: str) -> BudgetRecord:
    columns = {
        **request_columns(request),
        "tenant_id": request.tenant_id,
        "currency": request.currency,
        "created_by": actor,
    }
    try:
        rows = named_rows(  # the column names are this module's own (request_columns), never a request's
            conn,
            f"INSERT INTO finops_budgets ({', '.join(columns)}) VALUES ({', '.join(f':{c}' for c in columns)}) "
            f"RETURNING {_SELECT}",
            **columns,
        )
    except DatabaseError as error:
        raise _domain_error(error) from error
    return BudgetRecord.from_row(rows[0])


def request_columns(request: BudgetCreate | BudgetUpdate) -> dict[str, Any]:
    """The finops_budgets columns a request sets, by name: all of them for a new budget; for an update, those it
    gives (a policy is given whole: its empty fields clear their columns)."""
    names = ("name", "amount", "period", "start_date", "models", "regions", "services")
    columns = {name: value for name in names if (value := getattr(request, name)) is not None}
    if request.categories is not None:
        columns["categories"] = [c.value for c in request.categories]
    if (policy := request.policy) is not None:
        columns.update(
            notify_threshold=policy.notify_threshold,
            enforce_threshold=policy.enforce_threshold,
            actions=list(policy.actions),
            notify_emails=policy.notify_emails,
            admin_emails=policy.admin_emails,
            rate_limit_factor=policy.rate_limit_factor,
        )
    return columns


def get_budget(conn: Connection, budget_id: str, *, for_update: bool = False) -> BudgetRecord | None:
    lock = " FOR UPDATE" if for_update else ""
    rows = named_rows(conn, f"SELECT {_SELECT} FROM finops_budgets WHERE id = :id{lock}", id=budget_id)
    return BudgetRecord.from_row(rows[0]) if rows else None


def list_budgets(conn: Connection, tenant_id: str, *, include_deleted: bool = False) -> list[BudgetRecord]:
    live = "" if include_deleted else " AND deleted_at IS NULL"
    rows = named_rows(
        conn,
        f"SELECT {_SELECT} FROM finops_budgets WHERE tenant_id = :tenant{live} ORDER BY created_at, id",
        tenant=tenant_id,
    )
    return [BudgetRecord.from_row(r) for r in rows]


def live_budgets(conn: Connection, *, tenants: Sequence[str] | None = None) -> list[BudgetRecord]:
    """Live budgets (of some tenants, or all), in id order, the order row locks are taken in (lock_budgets)."""
    where = "deleted_at IS NULL" + (" AND tenant_id = ANY(:tenants)" if tenants is not None else "")
    params: dict[str, Any] = {"tenants": list(tenants)} if tenants is not None else {}
    rows = named_rows(conn, f"SELECT {_SELECT} FROM finops_budgets WHERE {where} ORDER BY id", **params)
    return [BudgetRecord.from_row(r) for r in rows]


def lock_budgets(conn: Connection, budgets: Sequence[BudgetRecord]) -> dict[str, BudgetRecord]:
    """Lock some budgets (in id order, like every other locking read) and return them as they are now.

    One narrow read: the columns an evaluation changes (state, spend) are refreshed on the records given;
    a budget whose version moved on since they were read (updated or soft-deleted) is re-read whole, and one
    that is gone is left out."""
    if not budgets:
        return {}
    given = {b.id: b for b in budgets}
    rows = named_rows(
        conn,
        "SELECT id, version, state, period_start, spent, spend_as_of FROM finops_budgets "
        "WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE",
        ids=list(given),
    )
    current: dict[str, BudgetRecord] = {}
    moved_on = []
    for row in rows:
        budget = given[str(row["id"])]
        if row["version"] != budget.version:
            moved_on.append(budget.id)
            continue
        current[budget.id] = replace(
            budget,
            state=row["state"],
            period_start=row["period_start"],
            spent=row["spent"],
            spend_as_of=row["spend_as_of"],
        )
    if moved_on:
        for row in named_rows(
            conn, f"SELECT {_SELECT} FROM finops_budgets WHERE id = ANY(CAST(:ids AS uuid[]))", ids=moved_on
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
        rows = named_rows(
            conn,
            f"UPDATE finops_budgets SET {assignments}{generation}, version = version + 1, updated_at = now() "
            f"WHERE id = :id AND version = :version RETURNING {_SELECT}",
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
    _set_columns(
        conn,
        [e.budget_id for e in evaluations],
        spent=("numeric", [e.spent for e in evaluations]),
        spend_as_of=("timestamptz", [e.as_of for e in evaluations]),
        state=("text", [e.state for e in evaluations]),
        period_start=("date", [e.period_start for e in evaluations]),
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
    _set_columns(
        conn,
        [f.budget_id for f in forecasts],
        forecasted_spend=("numeric", [f.expected_spend for f in forecasts]),
        forecast_exceed_probability=(
            "numeric",
            [Decimal(str(f.probability)) if f.probability is not None else None for f in forecasts],
        ),
        forecast_breach_date=("date", [f.breach_date for f in forecasts]),
        forecast_as_of=("timestamptz", [f.as_of for f in forecasts]),
    )


def _set_columns(conn: Connection, budget_ids: Sequence[str], **columns: tuple[str, Sequence[Any]]) -> None:
    """Set columns of many budgets in one statement: each column given as (its type, one value per budget)."""
    if not budget_ids:
        return
    conn.run(
        f"UPDATE finops_budgets AS b SET {', '.join(f'{column} = u.{column}' for column in columns)} FROM "
        + unnest(id="uuid", **{column: type_ for column, (type_, _) in columns.items()})
        + " WHERE b.id = u.id",
        id=list(budget_ids),
        **{column: list(values) for column, (_, values) in columns.items()},
    )


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
        "percent_used) SELECT u.budget_id, :day, u.tenant_id, u.period_start, u.spent, u.amount, u.percent FROM "
        + unnest(
            budget_id="uuid",
            tenant_id="text",
            period_start="date",
            spent="numeric",
            amount="numeric",
            percent="numeric",
        )
        + " ON CONFLICT (budget_id, snapshot_date) DO UPDATE SET spent = EXCLUDED.spent, amount = EXCLUDED.amount, "
        "percent_used = EXCLUDED.percent_used, period_start = EXCLUDED.period_start, recorded_at = now()",
        day=snapshot_date,
        budget_id=[s.budget.id for s in snapshots],
        tenant_id=[s.budget.tenant_id for s in snapshots],
        period_start=[s.period_start for s in snapshots],
        spent=[s.spent for s in snapshots],
        amount=[s.budget.amount for s in snapshots],
        percent=[s.percent for s in snapshots],
    )


def subscribed_topics(conn: Connection, budget_id: str) -> list[str]:
    """The topics on which the budget has e-mail subscriptions recorded."""
    rows = named_rows(
        conn, "SELECT DISTINCT topic FROM finops_budget_subscriptions WHERE budget_id = CAST(:id AS uuid)", id=budget_id
    )
    return sorted(str(row["topic"]) for row in rows)


def _domain_error(error: DatabaseError) -> Exception:
    """Constraint violations become 4xx answers; anything else stays a server error."""
    details = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    code, constraint = details.get("C"), details.get("n", "")
    if code == "23505" and "live_name" in constraint:
        return Conflict("a live budget with this name already exists for the tenant")
    if code in ("23514", "23502"):
        return InvalidRequest(f"the budget breaks the rule {constraint or details.get('M', '')}", location="body")
    return error  # type: ignore[no-any-return]
