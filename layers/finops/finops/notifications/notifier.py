"""After a commit, publish what the transaction queued: the container's SNS topics, or nothing when none are
configured (the rows then stay pending in the outbox for the drainer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pg8000.native import Connection

from finops.notifications.publisher import topic_arns_from_settings
from finops.observability import logger


@dataclass
class Notifier:
    """Where alerts go after a commit; without topics configured, outbox rows simply stay pending."""

    # (connection, the whole backlog?, subscription changes too?): only the budget-changing functions and the
    # drainer may change e-mail subscriptions (their IAM grants say so); others publish messages only.
    publish: Callable[[Connection, bool, bool], None] | None = None

    def after_commit(self, conn: Connection, *, backlog: bool = False, subscriptions: bool = False) -> None:
        if self.publish is not None:
            try:
                self.publish(conn, backlog, subscriptions)
            except Exception:  # the rows stay pending; the drainer retries them
                logger.exception("publishing notifications failed; they stay pending")


def notifier() -> Notifier:
    """The container's notifier, from the topics in its settings."""
    topics = topic_arns_from_settings()
    if not any(topics.values()):
        return Notifier()

    def publish(conn: Connection, backlog: bool, subscriptions: bool) -> None:
        from finops.notifications.job import drain_outbox
        from finops.notifications.publisher import publish_pending, sns_client, sync_pending_subscriptions

        if backlog:
            drain_outbox(conn, sns_client(), topics, subscriptions=subscriptions)
            return
        # On a request path: a few rows, and give up at once if SNS is unreachable (the drainer retries).
        publish_pending(conn, sns_client(), topics, limit=20, max_consecutive_connection_errors=1)
        if subscriptions:
            sync_pending_subscriptions(conn, sns_client(), topics, limit=10)

    return Notifier(publish=publish)
