"""The alerts a budget event sends, queued in the outbox in the transaction that records the event (so an alert
is sent exactly when its event is recorded, and an event recorded before is not alerted again)."""

from __future__ import annotations

from collections.abc import Sequence

from pg8000.native import Connection

from finops.budgets.periods import BudgetPeriod
from finops.budgets.store_events import NewEvent, record_events
from finops.notifications.outbox import Notification, enqueue_many


def record_with_alerts(conn: Connection, events: Sequence[tuple[NewEvent, BudgetPeriod]]) -> int:
    """Record events (each with the period it is about) in one statement and queue the alerts of those newly
    recorded in one more; returns how many were recorded."""
    recorded = record_events(conn, [event for event, _ in events])
    notifications: list[Notification] = []
    for event, period in events:
        event_id = recorded.get((event.budget.id, event.event_type))
        if event_id is not None:
            notifications += alerts(event, event_id, period)
    enqueue_many(conn, notifications)
    return len(recorded)


def alerts(event: NewEvent, event_id: str, period: BudgetPeriod) -> list[Notification]:
    """The notifications an event sends: to the alerts topic (`notify`) and to the admin topic (`alert_admins`)."""
    if event.event_type == "period_rollover":
        return []
    from finops.notifications.messages import compose_budget_alert

    budget = event.budget
    assert event.spent is not None and event.percent_used is not None  # every alerting event says them
    topics = (["alerts"] if "notify" in budget.actions else []) + (
        ["admin"] if "alert_admins" in budget.actions else []
    )
    return [
        Notification(
            compose_budget_alert(
                event_id=event_id,
                event_type=event.event_type,
                severity=event.severity,
                tenant_id=budget.tenant_id,
                budget_id=budget.id,
                budget_name=budget.name,
                period_start=period.start,
                period_end=period.end,
                spent=event.spent,
                amount=budget.amount,
                percent_used=event.percent_used,
                threshold_percent=event.threshold_percent,
                actions=list(budget.actions),
                topic=topic,  # type: ignore[arg-type]
                details=event.details,
                currency=budget.currency,
            ),
            event_id,
            budget.tenant_id,
            budget.id,
            event.event_type,
            event.severity,
        )
        for topic in topics
    ]
