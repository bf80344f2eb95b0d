"""EventBridge schedule, 03:00 UTC: scan yesterday for every tenant, alert each new high-severity anomaly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from finops.anomalies.job import run_daily_detection
from finops.anomalies.wiring import queue_and_publish_alerts
from finops.db.clickhouse import get_client
from finops.observability import add_count, instrumented, logger


@instrumented(api=False)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: Any) -> dict[str, Any]:
    report = run_daily_detection(get_client(), today=event.time.date(), notify=queue_and_publish_alerts)
    add_count("AnomaliesFound", report.anomalies)
    add_count("AnomalyAlertsQueued", report.alerts_queued)
    logger.info("daily anomaly detection done", extra={"day": report.day.isoformat(), "anomalies": report.anomalies})
    return {
        "day": report.day.isoformat(),
        "tenants": report.tenants,
        "anomalies": report.anomalies,
        "high": report.high,
        "alertsQueued": report.alerts_queued,
    }
