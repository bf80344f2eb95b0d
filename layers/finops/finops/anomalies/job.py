"""The 03:00 UTC job: detect yesterday's anomalies of every tenant with recent spend, store them in
`cost_anomalies` (its alerts refer to those rows), and alert each high-severity one once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client

from finops.anomalies.detection import AnomalyMethod
from finops.anomalies.models import AnomalyOut
from finops.anomalies.scan import Found, replies, scan
from finops.anomalies.store import active_anomalies, insert_anomalies, tenants_with_spend

BASELINE_DAYS = 90  # history before the first scored day: the seasonal detector learns 8 weeks of errors
METHOD: AnomalyMethod = "auto"


@dataclass(frozen=True)
class DailyDetectionReport:
    day: date
    tenants: int
    anomalies: int
    high: int
    alerts_queued: int


def run_daily_detection(
    client: Client, *, today: date, notify: Callable[[list[AnomalyOut]], int] | None = None
) -> DailyDetectionReport:
    """Yesterday, every tenant with spend in the BASELINE_DAYS before it; `notify(list[AnomalyOut])` queues
    alerts for the high-severity ones (once each: the outbox is keyed by the anomaly's id) and says how many."""
    yesterday = today - timedelta(days=1)
    tenants = tenants_with_spend(client, yesterday - timedelta(days=BASELINE_DAYS), yesterday)
    found = scan(client, tenants, yesterday, yesterday, METHOD)
    detected_at = record(client, found, tenants=tenants, start=yesterday, end=yesterday, method=METHOD)
    high = replies(client, [f for f in found if f.detection.severity == "high"], METHOD, detected_at=detected_at)
    queued = notify(high) if notify is not None and high else 0
    return DailyDetectionReport(
        day=yesterday, tenants=len(tenants), anomalies=len(found), high=len(high), alerts_queued=queued
    )


def record(
    client: Client, found: list[Found], *, tenants: Sequence[str], start: date, end: date, method: str
) -> datetime:
    """Write the detections, and mark inactive what an earlier run found on these days and this one did not."""
    detected_at = datetime.now(UTC)
    rows = [f.row(method, detected_at) for f in found]
    current = {row.id for row in rows}
    stale = [row for row in active_anomalies(client, tenants, start, end, method) if row.id not in current]
    insert_anomalies(client, rows + [replace(row, active=False, detected_at=detected_at) for row in stale])
    return detected_at
