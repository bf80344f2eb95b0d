"""High-severity anomaly alerts, with the same conventions as budget alerts (subject, text, JSON, attributes)
and the same outbox: the outbox row's event id is the anomaly's id, so an anomaly is published once however
often detection runs."""

from __future__ import annotations

from collections.abc import Sequence

from pg8000.native import Connection

from finops.anomalies.models import AnomalyOut
from finops.notifications.messages import OutboxMessage, build_message, fit_subject, to_json_safe
from finops.notifications.outbox import Notification, enqueue_many

EVENT_TYPE = "anomaly"
SEVERITY = "critical"  # only high-severity anomalies are sent


def compose_anomaly_alert(anomaly: AnomalyOut) -> OutboxMessage:
    change = f"{anomaly.deviation_percent:+.0f}%" if anomaly.deviation_percent is not None else "new spend"
    subject = fit_subject(
        f"{anomaly.category} spend {change} on {anomaly.date_.isoformat()} " + "({tenant})",
        anomaly.category,
        anomaly.tenant_id,
    )
    causes = [
        f"- {c.dimension} {c.key}: {c.change:+,.2f} USD ({c.share:.0%} of the difference){' (new)' if c.first_seen else ''}"
        for c in anomaly.root_cause
    ]
    lines = [
        f"Cost anomaly for tenant {anomaly.tenant_id}: {anomaly.category} spend on {anomaly.date_.isoformat()} was "
        f"{anomaly.actual:,.2f} USD against an expected {anomaly.expected:,.2f} USD ({change}, impact {anomaly.impact:+,.2f} USD).",
        f"Severity: {anomaly.severity}; direction: {anomaly.direction}; detection: {anomaly.method}.",
        *(["What drove it:", *causes] if causes else []),
    ]
    body = to_json_safe(
        {
            "eventId": anomaly.id,
            "eventType": EVENT_TYPE,
            "severity": SEVERITY,
            "tenantId": anomaly.tenant_id,
            "anomalyId": anomaly.id,
            "date": anomaly.date_,
            "category": anomaly.category,
            "direction": anomaly.direction,
            "anomalySeverity": anomaly.severity,
            "expected": anomaly.expected,
            "actual": anomaly.actual,
            "impact": anomaly.impact,
            "deviationPercent": anomaly.deviation_percent,
            "rootCause": [c.model_dump(by_alias=True) for c in anomaly.root_cause],
        }
    )
    return build_message(topic="alerts", subject=subject, text_lines=lines, body_json=body)


def enqueue_anomaly_alerts(conn: Connection, anomalies: Sequence[AnomalyOut]) -> int:
    """Queue one alert per anomaly in one statement (a no-op for anomalies already queued); returns how many were
    newly queued. The caller commits and publishes."""
    return enqueue_many(
        conn,
        [Notification(compose_anomaly_alert(a), a.id, a.tenant_id, None, EVENT_TYPE, SEVERITY) for a in anomalies],
    )
