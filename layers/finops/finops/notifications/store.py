"""The notifications' SQL, all of it (PostgreSQL): the outbox (`finops_notification_outbox`) and the budgets'
e-mail subscriptions (`finops_budget_subscriptions`). Rows are read by column name into typed rows.

No statement here begins or ends a transaction: the callers decide (the outbox writer runs in the transaction of
the change that causes a notification; the publisher and the subscription code run their own short ones).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from finops.db.postgres import named_rows, unnest

if TYPE_CHECKING:
    import pg8000.native

    from finops.notifications.outbox import Notification

Row = TypeVar("Row")


def _first(row_type: type[Row], conn: pg8000.native.Connection, sql: str, **params: Any) -> Row | None:
    """The first row of a statement as a `row_type` (its fields named as the columns), or None."""
    rows = named_rows(conn, sql, **params)
    return row_type(**rows[0]) if rows else None


# --- the outbox: written in the caller's transaction ----------------------------------------------------------


def insert_messages(conn: pg8000.native.Connection, notifications: Sequence[Notification]) -> int:
    """Add messages to the outbox in one statement; a message already there for its event and topic is kept.
    Returns how many were added."""
    conn.run(
        "INSERT INTO finops_notification_outbox (event_id, topic, tenant_id, budget_id, event_type, severity, "
        "subject, body_text, body_json) SELECT * FROM "
        + unnest(
            event_ids="uuid",
            topics="text",
            tenants="text",
            budgets="uuid",
            event_types="text",
            severities="text",
            subjects="text",
            texts="text",
            bodies="jsonb",
        )
        + " ON CONFLICT (event_id, topic) DO NOTHING",
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
    return int(conn.row_count)


def insert_subscription_request(conn: pg8000.native.Connection, *, budget_id: str, tenant_id: str, topic: str) -> None:
    """A request to bring a budget's e-mail subscriptions on `topic` in step."""
    conn.run(
        "INSERT INTO finops_notification_outbox (event_id, kind, topic, tenant_id, budget_id, event_type, severity) "
        "VALUES (CAST(:event_id AS uuid), 'subscriptions', :topic, :tenant_id, CAST(:budget_id AS uuid), "
        "'subscriptions', 'info')",
        event_id=str(uuid.uuid4()),
        topic=topic,
        tenant_id=tenant_id,
        budget_id=budget_id,
    )


# --- the outbox: done by the publisher ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A message row of the outbox, as the publisher sends it."""

    id: Any  # the row's uuid
    event_id: Any
    topic: str
    tenant_id: str
    budget_id: Any  # None for messages about no budget (an anomaly)
    event_type: str
    severity: str
    subject: str
    body_text: str
    body_json: Any  # jsonb: a dict, or its text


@dataclass(frozen=True, slots=True)
class FailedRow:
    """A row after one more failed try: whether that parked it as dead, and what the log says about it."""

    dead: bool
    event_id: Any
    kind: str
    topic: str
    budget_id: Any
    attempts: int


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """A subscription request leased by the publisher."""

    id: Any
    budget_id: Any
    topic: str
    created_at: datetime


def next_due_message(
    conn: pg8000.native.Connection, *, topics: list[str], tried: list[str], now: datetime
) -> MessageRow | None:
    """The message due first on one of `topics` (not one of `tried`), locked until the caller's transaction ends;
    rows locked by another publisher are skipped."""
    return _first(
        MessageRow,
        conn,
        "SELECT id, event_id, topic, tenant_id, budget_id, event_type, severity, subject, body_text, body_json "
        "FROM finops_notification_outbox "
        "WHERE kind = 'message' AND published_at IS NULL AND dead_at IS NULL AND next_attempt_at <= :now "
        "AND topic = ANY(CAST(:topics AS text[])) AND NOT (id = ANY(CAST(:tried AS uuid[]))) "
        "ORDER BY next_attempt_at, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        topics=topics,
        tried=tried,
        now=now,
    )


def mark_published(conn: pg8000.native.Connection, row_id: Any, message_id: str | None) -> None:
    conn.run(
        "UPDATE finops_notification_outbox SET published_at = now(), message_id = :message_id, "
        "attempts = attempts + 1 WHERE id = :id",
        id=row_id,
        message_id=message_id,
    )


def record_failure(
    conn: pg8000.native.Connection, row_id: Any, error: str, now: datetime, *, max_attempts: int
) -> FailedRow | None:
    """One more failed try: back off (30 s, doubling, at most an hour), or park the row as dead after
    `max_attempts` tries."""
    return _first(
        FailedRow,
        conn,
        "UPDATE finops_notification_outbox SET attempts = attempts + 1, last_error = :error, "
        "next_attempt_at = CAST(:now AS timestamptz) + least(interval '1 hour', interval '30 seconds' * power(2, attempts)), "
        "dead_at = CASE WHEN attempts + 1 >= :max_attempts THEN CAST(:now AS timestamptz) END "
        "WHERE id = :id RETURNING dead_at IS NOT NULL AS dead, event_id, kind, topic, budget_id, attempts",
        id=row_id,
        error=error,
        now=now,
        max_attempts=max_attempts,
    )


def pending_messages(conn: pg8000.native.Connection) -> int:
    """Messages not yet published nor dead."""
    rows = named_rows(
        conn,
        "SELECT count(*) AS pending FROM finops_notification_outbox "
        "WHERE kind = 'message' AND published_at IS NULL AND dead_at IS NULL",
    )
    return int(rows[0]["pending"])


def mark_unrouted(conn: pg8000.native.Connection, topic: str, error: str) -> int:
    """Say why the unpublished rows of a topic wait (no ARN configured for it); the number of rows newly marked."""
    conn.run(
        "UPDATE finops_notification_outbox SET last_error = :error "
        "WHERE published_at IS NULL AND topic = :topic AND last_error IS DISTINCT FROM :error",
        topic=topic,
        error=error,
    )
    return int(conn.row_count)


def lease_subscription_request(
    conn: pg8000.native.Connection, *, topics: list[str], budget_id: str | None, now: datetime
) -> SubscriptionRequest | None:
    """The subscription request due first on one of `topics` (of one budget, if given), leased for five minutes:
    due again then, unless it is done."""
    return _first(
        SubscriptionRequest,
        conn,
        "UPDATE finops_notification_outbox SET next_attempt_at = CAST(:now AS timestamptz) + interval '5 minutes' "
        "WHERE id = (SELECT id FROM finops_notification_outbox WHERE kind = 'subscriptions' "
        "AND published_at IS NULL AND dead_at IS NULL AND next_attempt_at <= :now "
        "AND topic = ANY(CAST(:topics AS text[])) AND (CAST(:budget AS uuid) IS NULL OR budget_id = CAST(:budget AS uuid)) "
        "ORDER BY next_attempt_at, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, budget_id, topic, created_at",
        now=now,
        topics=topics,
        budget=budget_id,
    )


def complete_subscription_requests(conn: pg8000.native.Connection, request: SubscriptionRequest, now: datetime) -> None:
    """Mark a request done, and the older requests for the same budget and topic (they asked for an older state)."""
    conn.run(
        "UPDATE finops_notification_outbox SET published_at = CAST(:now AS timestamptz), last_error = NULL, "
        "attempts = attempts + CASE WHEN id = :id THEN 1 ELSE 0 END "
        "WHERE kind = 'subscriptions' AND budget_id = CAST(:budget AS uuid) AND topic = :topic "
        "AND published_at IS NULL AND (id = :id OR created_at < :created_at)",
        now=now,
        budget=str(request.budget_id),
        topic=request.topic,
        id=request.id,
        created_at=request.created_at,
    )


@dataclass(frozen=True)
class OutboxHealth:
    pending: int
    oldest_pending_seconds: float  # 0 when nothing is pending
    dead: int


def outbox_health(conn: pg8000.native.Connection, now: datetime) -> OutboxHealth:
    """What the alarms watch: how much waits, for how long, and how much was parked as dead."""
    row = named_rows(
        conn,
        "SELECT count(*) FILTER (WHERE published_at IS NULL AND dead_at IS NULL) AS pending, "
        "min(created_at) FILTER (WHERE published_at IS NULL AND dead_at IS NULL) AS oldest, "
        "count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead FROM finops_notification_outbox",
    )[0]
    oldest = row["oldest"]
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return OutboxHealth(pending=int(row["pending"]), oldest_pending_seconds=age, dead=int(row["dead"]))


# --- e-mail subscriptions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """A row of `finops_budget_subscriptions`: a budget mails `email` on `topic` through `subscription_arn`."""

    budget_id: Any
    topic: str
    email: str
    subscription_arn: str | None


def budget_emails(conn: pg8000.native.Connection, budget_id: str, topic: str) -> list[str]:
    """The addresses the budget mails on `topic` now: none once it is deleted (or gone). The budgets domain's
    table, read when a subscription request is done so the newest state of the budget wins."""
    column = "notify_emails" if topic == "alerts" else "admin_emails"
    rows = named_rows(
        conn,
        f"SELECT {column} AS emails FROM finops_budgets WHERE id = CAST(:id AS uuid) AND deleted_at IS NULL",
        id=budget_id,
    )
    return list(rows[0]["emails"] or []) if rows else []


def budget_subscriptions(conn: pg8000.native.Connection, budget_id: str) -> list[Subscription]:
    """A budget's subscriptions on every topic, by topic and address."""
    return [
        Subscription(**row)
        for row in named_rows(
            conn,
            "SELECT budget_id, topic, email, subscription_arn FROM finops_budget_subscriptions "
            "WHERE budget_id = CAST(:budget AS uuid) ORDER BY topic, email",
            budget=budget_id,
        )
    ]


def address_subscriptions(conn: pg8000.native.Connection, topic: str, email: str) -> list[Subscription]:
    """Every budget's subscription of one address on one topic (they share one SNS subscription)."""
    return [
        Subscription(**row)
        for row in named_rows(
            conn,
            "SELECT budget_id, topic, email, subscription_arn FROM finops_budget_subscriptions "
            "WHERE topic = :topic AND email = :email",
            topic=topic,
            email=email,
        )
    ]


def save_subscription(conn: pg8000.native.Connection, *, budget_id: str, topic: str, email: str, arn: str) -> None:
    """Record that the budget mails the address, and the address's (shared) subscription ARN on every row."""
    conn.run(
        "INSERT INTO finops_budget_subscriptions (budget_id, email, topic, subscription_arn) "
        "VALUES (CAST(:budget AS uuid), :email, :topic, :arn) "
        "ON CONFLICT (budget_id, topic, email) DO UPDATE SET subscription_arn = EXCLUDED.subscription_arn",
        budget=budget_id,
        email=email,
        topic=topic,
        arn=arn,
    )
    conn.run(
        "UPDATE finops_budget_subscriptions SET subscription_arn = :arn WHERE topic = :topic AND email = :email",
        arn=arn,
        topic=topic,
        email=email,
    )


def delete_subscription(
    conn: pg8000.native.Connection, *, budget_id: str, topic: str, email: str
) -> Subscription | None:
    """Forget that the budget mails the address; the row it was, if any."""
    return _first(
        Subscription,
        conn,
        "DELETE FROM finops_budget_subscriptions WHERE budget_id = CAST(:budget AS uuid) AND topic = :topic "
        "AND email = :email RETURNING budget_id, topic, email, subscription_arn",
        budget=budget_id,
        topic=topic,
        email=email,
    )


def lock_address(conn: pg8000.native.Connection, topic: str, email: str) -> None:
    """Serialise the changes of one address on one topic until the caller's transaction ends."""
    conn.run("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))", key=f"finops-subscription:{topic}:{email}")
