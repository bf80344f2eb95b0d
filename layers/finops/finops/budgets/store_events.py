"""PostgreSQL: a budget's audit trail (finops_budget_events). Threshold events are unique per budget, period and
threshold generation in the database, so however many paths try to record one, it is recorded once."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pg8000.native import Connection

from finops.budgets.models import BudgetEvent
from finops.budgets.store import BudgetRecord
from finops.db.postgres import named_rows, unnest
from finops.errors import InvalidRequest

_EVENT_COLUMNS = (
    "id, budget_id, event_type, severity, period_start, threshold_percent, spent, amount, percent_used, actor, "
    "source, details, created_at"
)


@dataclass(frozen=True)
class NewEvent:
    """An event to record for a budget."""

    budget: BudgetRecord
    event_type: str
    severity: str
    source: str
    actor: str = ""
    period_start: date | None = None
    threshold_percent: Decimal | None = None
    spent: Decimal | None = None
    percent_used: Decimal | None = None
    details: dict[str, Any] | None = None


def record_events(conn: Connection, events: Sequence[NewEvent]) -> dict[tuple[str, str], str]:
    """Append events (at most one per budget and type) in one statement. Returns the ids of those recorded by
    (budget id, event type); once-per-period events already recorded (by any path) are left out."""
    if not events:
        return {}
    rows = named_rows(
        conn,
        "INSERT INTO finops_budget_events (budget_id, tenant_id, event_type, severity, period_start, "
        "threshold_generation, threshold_percent, spent, amount, percent_used, actor, source, details) "
        "SELECT * FROM "
        + unnest(
            budget_id="uuid",
            tenant_id="text",
            event_type="text",
            severity="text",
            period_start="date",
            threshold_generation="integer",
            threshold_percent="numeric",
            spent="numeric",
            amount="numeric",
            percent_used="numeric",
            actor="text",
            source="text",
            details="jsonb",
        )
        + " ON CONFLICT DO NOTHING RETURNING id, budget_id, event_type",
        budget_id=[e.budget.id for e in events],
        tenant_id=[e.budget.tenant_id for e in events],
        event_type=[e.event_type for e in events],
        severity=[e.severity for e in events],
        period_start=[e.period_start for e in events],
        # A rollover is once per period whatever the thresholds; the other events once per threshold generation.
        threshold_generation=[
            e.budget.threshold_generation if e.event_type != "period_rollover" else 0 for e in events
        ],
        threshold_percent=[e.threshold_percent for e in events],
        spent=[e.spent for e in events],
        amount=[e.budget.amount for e in events],
        percent_used=[e.percent_used for e in events],
        actor=[e.actor for e in events],
        source=[e.source for e in events],
        details=[json.dumps(e.details or {}, default=str) for e in events],
    )
    return {(str(row["budget_id"]), row["event_type"]): str(row["id"]) for row in rows}


def record_event(conn: Connection, event: NewEvent) -> str | None:
    """Append one event; None when it is a once-per-period event already recorded."""
    return record_events(conn, [event]).get((event.budget.id, event.event_type))


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
    rows = named_rows(
        conn,
        f"SELECT {_EVENT_COLUMNS} FROM finops_budget_events WHERE budget_id = :budget{after} "
        "ORDER BY created_at DESC, id DESC LIMIT :limit",
        **params,
    )
    events = [_event(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return events, _encode_cursor(last["created_at"], str(last["id"])) if last else None


def _event(row: Mapping[str, Any]) -> BudgetEvent:
    details = row["details"]
    return BudgetEvent.model_validate(
        {
            **row,
            "id": str(row["id"]),
            "budget_id": str(row["budget_id"]),
            "threshold_percent": _float(row["threshold_percent"]),
            "percent_used": _float(row["percent_used"]),
            "details": details if isinstance(details, dict) else json.loads(details or "{}"),
        }
    )


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _encode_cursor(created_at: datetime, event_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{event_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's moment has its offset")
        # In UTC here, where a forged moment at the edge of the calendar fails (OverflowError), not in the driver.
        return moment.astimezone(UTC), str(uuid.UUID(event_id))
    except (ValueError, UnicodeDecodeError, OverflowError) as error:
        raise InvalidRequest("not a cursor returned by this endpoint", field="cursor") from error
