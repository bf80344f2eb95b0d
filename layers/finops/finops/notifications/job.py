"""The outbox drainer, the notifications' scheduled job (every 5 minutes; the daily jobs' notifier runs it too,
for what they queued): publish everything due, do the subscription changes, and report what is left for the
alarms. Must be called outside a transaction: each row is committed as it is done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from finops.notifications.publisher import SyncReport, publish_pending, sync_pending_subscriptions
from finops.notifications.store import OutboxHealth, outbox_health

if TYPE_CHECKING:
    import pg8000.native
    from mypy_boto3_sns import SNSClient

# At most this many messages a drain (about half a minute at SNS's usual pace): a larger backlog is finished by the
# next runs, five minutes apart, within the function's time limit.
MAX_MESSAGES_PER_DRAIN = 1000


@dataclass(frozen=True)
class DrainReport:
    published: int  # messages accepted by SNS in this run
    subscriptions_done: int  # subscription changes done in this run
    failed: int  # tried and failed in this run (pending again later, or dead)
    health: OutboxHealth  # what is left: the alarms' inputs


def drain_outbox(
    conn: pg8000.native.Connection,
    sns_client: SNSClient,
    topic_arns: dict[str, str | None],
    *,
    now: datetime | None = None,
    max_messages: int = MAX_MESSAGES_PER_DRAIN,
    subscriptions: bool = True,
) -> DrainReport:
    """Everything that is due (up to `max_messages` messages), until SNS stops accepting, then the subscription
    changes (unless `subscriptions` is False: the caller may not change them); returns what was done and what is
    left (pending, the oldest pending's age, dead). Must be called outside a transaction."""
    now = now or datetime.now(UTC)
    published = failed = 0
    while published < max_messages:
        report = publish_pending(conn, sns_client, topic_arns, now=now, limit=min(500, max_messages - published))
        published, failed = published + report.published, failed + report.failed
        if not report.published or not report.still_pending:
            break
    synced = sync_pending_subscriptions(conn, sns_client, topic_arns, now=now) if subscriptions else SyncReport(0, 0)
    return DrainReport(published, synced.done, failed + synced.failed, outbox_health(conn, now))
