"""EventBridge schedule, every 5 minutes: do the notification outbox (messages, subscription changes), report its backlog."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from finops.db.postgres import get_connection
from finops.notifications.job import drain_outbox
from finops.notifications.publisher import sns_client, topic_arns_from_settings
from finops.observability import add_count, add_seconds, instrumented, logger


@instrumented(api=False)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: Any) -> dict[str, Any]:
    report = drain_outbox(get_connection(), sns_client(), topic_arns_from_settings())
    add_count("OutboxPublished", report.published)
    add_count("OutboxPublishFailed", report.failed)
    # The alarms' inputs: emitted on every run, so a run that stops reporting is noticed too.
    add_seconds("OutboxOldestPendingSeconds", report.health.oldest_pending_seconds)
    add_count("OutboxDeadMessages", report.health.dead)
    reply = {
        "published": report.published,
        "subscriptionsDone": report.subscriptions_done,
        "failed": report.failed,
        "pending": report.health.pending,
        "oldestPendingSeconds": round(report.health.oldest_pending_seconds, 3),
        "deadMessages": report.health.dead,
    }
    logger.info("notification outbox drained", extra=reply)
    return reply
