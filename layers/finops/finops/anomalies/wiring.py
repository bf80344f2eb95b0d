"""Connects the anomaly job to PostgreSQL's outbox and SNS (created per container, only when configured)."""

from __future__ import annotations

from collections.abc import Sequence

from finops.anomalies.models import AnomalyOut
from finops.observability import logger
from finops.settings import get_settings


def queue_and_publish_alerts(anomalies: Sequence[AnomalyOut]) -> int:
    """Queue an alert per anomaly in the outbox (once per anomaly), then publish the outbox."""
    settings = get_settings()
    if not (settings.database_url or settings.database_secret_arn):
        logger.warning("no PostgreSQL configured: anomaly alerts are not sent")
        return 0
    from finops.anomalies.alerts import enqueue_anomaly_alerts
    from finops.db.postgres import get_connection, transaction
    from finops.notifications.notifier import notifier

    conn = get_connection()
    with transaction(conn):
        queued = enqueue_anomaly_alerts(conn, anomalies)
    notifier().after_commit(conn, backlog=True)
    return queued
