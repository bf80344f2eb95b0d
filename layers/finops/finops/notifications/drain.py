"""Drain the notification outbox on a schedule, and measure what is left for the alarms.

The drainer runs every five minutes, so an alert waits minutes rather than until the 02:00 budget check publishes
the backlog. It publishes with `publish_pending` (each row once, safe beside other publishers) and then reports
the age of the oldest message still waiting and how many were given up as dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops.notifications.publisher import publish_pending

if TYPE_CHECKING:
    import pg8000.native
    from mypy_boto3_sns import SNSClient

# A message tried this many times counts as dead (kept in the outbox, alarmed) rather than pending. A stand-in
# until the outbox parks such messages itself with back-off.
MAX_PUBLISH_ATTEMPTS = 10
# At most this many messages a run (about half a minute at SNS's usual pace): a larger backlog is finished by
# the next runs, five minutes apart.
MAX_MESSAGES_PER_RUN = 1000


@dataclass(frozen=True)
class DrainReport:
    published: int  # accepted by SNS in this run
    failed: int  # tried and failed in this run (still pending)
    pending: int  # unpublished messages left, dead ones excluded
    oldest_pending_seconds: float  # age of the oldest of those; 0 when none waits
    dead: int  # unpublished messages tried MAX_PUBLISH_ATTEMPTS times or more


def drain_outbox(
    conn: pg8000.native.Connection,
    sns_client: SNSClient,
    topic_arns: dict[str, str | None],
    *,
    limit: int = MAX_MESSAGES_PER_RUN,
) -> DrainReport:
    """Publish up to `limit` pending messages, oldest first (each tried once per run; the run stops early when
    SNS cannot be reached), then measure the backlog. Must be called outside a transaction."""
    report = publish_pending(conn, sns_client, topic_arns, limit=limit)
    pending, oldest, dead = conn.run(
        "SELECT count(*) FILTER (WHERE attempts < :max_attempts), "
        "COALESCE(EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE attempts < :max_attempts)), 0), "
        "count(*) FILTER (WHERE attempts >= :max_attempts) "
        "FROM finops_notification_outbox WHERE published_at IS NULL",
        max_attempts=MAX_PUBLISH_ATTEMPTS,
    )[0]
    return DrainReport(
        published=report.published,
        failed=report.failed,
        pending=int(pending),
        oldest_pending_seconds=float(oldest),
        dead=int(dead),
    )
