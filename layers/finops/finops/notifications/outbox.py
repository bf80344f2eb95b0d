"""The transactional outbox, its one writer: notifications and subscription changes are written in the
transaction of the change that causes them (no BEGIN/COMMIT here) and done after it commits
(finops.notifications.publisher), retried with back-off until they go through or are parked as dead. What a
message says is composed in finops.notifications.messages; the SQL is in finops.notifications.store.

Two kinds of row: a `message` to publish on a topic (a budget alert, an anomaly alert), and `subscriptions`, a
request to bring one budget's e-mail subscriptions on one topic in step with the budget as it is when the row is
done (so a later change never loses to an earlier one, and a deleted budget's addresses are unsubscribed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops.notifications import store

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


def enqueue_many(conn: pg8000.native.Connection, notifications: Sequence[Notification]) -> int:
    """`enqueue` for many messages in one statement (the daily check queues thousands); returns how many were new
    (a message already queued for its event and topic is kept as it is)."""
    if not notifications:
        return 0
    for notification in notifications:
        notification.check()
    return store.insert_messages(conn, notifications)


def enqueue_subscription_sync(
    conn: pg8000.native.Connection, *, budget_id: str, tenant_id: str, topics: Sequence[str]
) -> None:
    """Ask for a budget's e-mail subscriptions on `topics` to be brought in step, in the caller's transaction."""
    for topic in topics:
        store.insert_subscription_request(conn, budget_id=budget_id, tenant_id=tenant_id, topic=topic)
