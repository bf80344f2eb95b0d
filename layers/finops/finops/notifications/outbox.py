"""The transactional outbox: notifications and subscription changes are written in the transaction of the change
that causes them (no BEGIN/COMMIT here) and done after it commits (finops.notifications.publisher), retried with
back-off until they go through or are parked as dead.

Two kinds of row: a `message` to publish on a topic (a budget alert, an anomaly alert), and `subscriptions`, a
request to bring one budget's e-mail subscriptions on one topic in step with the budget as it is when the row is
done (so a later change never loses to an earlier one, and a deleted budget's addresses are unsubscribed).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pg8000.native

    from finops.notifications.messages import OutboxMessage


@dataclass(frozen=True)
class Notification:
    """A message for the outbox and the columns that route and label it (they must say what its JSON says)."""

    message: OutboxMessage
    event_id: str
    tenant_id: str
    budget_id: str | None
    event_type: str
    severity: str

    def check(self) -> None:
        expected = {
            "eventId": self.event_id,
            "tenantId": self.tenant_id,
            "eventType": self.event_type,
            "severity": self.severity,
        }
        if "budgetId" in self.message.body_json:
            expected["budgetId"] = str(self.budget_id)
        for key, value in expected.items():
            if str(self.message.body_json.get(key)) != str(value):
                raise ValueError(f"message {key} {self.message.body_json.get(key)!r} does not match {value!r}")


def enqueue(
    conn: pg8000.native.Connection,
    message: OutboxMessage,
    *,
    event_id: str,
    tenant_id: str,
    budget_id: str | None,
    event_type: str,
    severity: str,
) -> None:
    """Add `message` to the outbox in the caller's transaction (no BEGIN/COMMIT here: the notification must
    commit or roll back with the event that causes it). Enqueuing the same event and topic twice is a no-op."""
    enqueue_many(conn, [Notification(message, event_id, tenant_id, budget_id, event_type, severity)])


def enqueue_many(conn: pg8000.native.Connection, notifications: Sequence[Notification]) -> None:
    """`enqueue` for many messages in one statement (the daily check queues thousands)."""
    if not notifications:
        return
    for notification in notifications:
        notification.check()
    conn.run(
        "INSERT INTO finops_notification_outbox (event_id, topic, tenant_id, budget_id, event_type, severity, "
        "subject, body_text, body_json) SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:topics AS text[]), "
        "CAST(:tenants AS text[]), CAST(:budgets AS uuid[]), CAST(:event_types AS text[]), "
        "CAST(:severities AS text[]), CAST(:subjects AS text[]), CAST(:texts AS text[]), CAST(:bodies AS jsonb[])) "
        "ON CONFLICT (event_id, topic) DO NOTHING",
        event_ids=[str(n.event_id) for n in notifications],
        topics=[n.message.topic for n in notifications],
        tenants=[n.tenant_id for n in notifications],
        budgets=[str(n.budget_id) if n.budget_id else None for n in notifications],
        event_types=[n.event_type for n in notifications],
        severities=[n.severity for n in notifications],
        subjects=[n.message.subject for n in notifications],
        texts=[n.message.body_text for n in notifications],
        bodies=[json.dumps(n.message.body_json) for n in notifications],
    )


def enqueue_subscription_sync(
    conn: pg8000.native.Connection, *, budget_id: str, tenant_id: str, topics: Sequence[str]
) -> None:
    """Ask for a budget's e-mail subscriptions on `topics` to be brought in step, in the caller's transaction."""
    for topic in topics:
        conn.run(
            "INSERT INTO finops_notification_outbox (event_id, kind, topic, tenant_id, budget_id, event_type, severity) "
            "VALUES (CAST(:event_id AS uuid), 'subscriptions', :topic, :tenant_id, CAST(:budget_id AS uuid), "
            "'subscriptions', 'info')",
            event_id=str(uuid.uuid4()),
            topic=topic,
            tenant_id=tenant_id,
            budget_id=budget_id,
        )


@dataclass(frozen=True)
class OutboxHealth:
    pending: int
    oldest_pending_seconds: float  # 0 when nothing is pending
    dead: int


def outbox_health(conn: pg8000.native.Connection, now: datetime) -> OutboxHealth:
    """What the alarms watch: how much waits, for how long, and how much was parked as dead."""
    pending, oldest, dead = conn.run(
        "SELECT count(*) FILTER (WHERE published_at IS NULL AND dead_at IS NULL), "
        "min(created_at) FILTER (WHERE published_at IS NULL AND dead_at IS NULL), "
        "count(*) FILTER (WHERE dead_at IS NOT NULL) FROM finops_notification_outbox"
    )[0]
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return OutboxHealth(pending=int(pending), oldest_pending_seconds=age, dead=int(dead))
