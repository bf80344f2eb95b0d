"""Anomaly detection over ClickHouse spend: run the detectors, explain each anomaly, store it, acknowledge it.

Detection runs per tenant and category on daily spend (the effective cost rows: facts plus live events), with
`BASELINE_DAYS` of history before the first day scored. Each anomaly's id is derived from (tenant, day,
category, method), so running detection again over the same days rewrites the same rows (ReplacingMergeTree)
instead of adding new ones, and acknowledgements, kept in their own table, are never undone. An anomaly that
a re-run no longer finds is stored again as inactive.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
from clickhouse_connect.driver.client import Client
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from finops.anomalies.detection import AnomalyMethod, Detection, detect_many
from finops.anomalies.root_cause import Contributor, root_cause
from finops.costs.queries import effective_rows
from finops.costs.series import daily_series_by_category
from finops.errors import NotFound
from finops.models.common import CURRENCY, Money, UtcDateTime

BASELINE_DAYS = 90  # history before the first scored day: the seasonal detector learns 8 weeks of errors
ROOT_CAUSE_WINDOW = 28  # baseline days of the root-cause comparison
_NAMESPACE = uuid.UUID("5b0c3f0e-7a55-4c1e-9d2a-2f1a4d7f6e11")
NOT_FOUND = "anomaly not found"


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no infinity (a z-score over a baseline without variation is one): say null, as documented,
    # rather than let the serializer turn it into a null the schema does not allow.
    return value if value is None or math.isfinite(value) else None


FiniteOrNull = Annotated[float | None, AfterValidator(_finite_or_none)]


class _Reply(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


class RootCauseOut(_Reply):
    dimension: str = Field(description="model, region or service")
    key: str
    actual: float = Field(description="Cost on the anomalous day")
    expected: float = Field(description="Baseline daily cost, scaled to the expected total")
    change: float = Field(description="actual - expected, USD")
    share: float = Field(description="Share of the day's difference (negative: moved against it)")
    first_seen: bool = Field(alias="firstSeen", description="No cost in the baseline window: new on this day")


class Acknowledgement(_Reply):
    acknowledged_by: str = Field(alias="acknowledgedBy")
    acknowledged_at: UtcDateTime = Field(alias="acknowledgedAt")
    note: str


class AnomalyOut(_Reply):
    id: str
    tenant_id: str = Field(alias="tenantId")
    date_: date = Field(alias="date")
    category: str
    method: str = Field(description="The detection method asked for")
    direction: Literal["up", "down"]
    severity: Literal["low", "medium", "high"]
    expected: Money
    actual: Money
    impact: Money = Field(description="actual - expected, USD")
    deviation_percent: FiniteOrNull = Field(alias="deviationPercent")
    score: FiniteOrNull = Field(
        description="How unusual the day is for its own series (|z|, or actual/limit); null when it is infinite "
        "(spend after a baseline with no variation at all, e.g. the first day of a new category)"
    )
    root_cause: list[RootCauseOut] = Field(alias="rootCause")
    acknowledged: Acknowledgement | None = None
    detected_at: UtcDateTime = Field(alias="detectedAt")


class AnomaliesResponse(_Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    method: str
    currency: str = CURRENCY
    anomalies: list[AnomalyOut]


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=1000, description="Why it is fine, or what was done")


@dataclass(frozen=True)
class Found:
    """One detection with its series key and explanation, ready to store."""

    tenant_id: str
    category: str
    detection: Detection
    causes: list[Contributor]

    @property
    def day(self) -> date:
        assert self.detection.day is not None
        return self.detection.day


def anomaly_id(tenant_id: str, day: date, category: str, method: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}|{day.isoformat()}|{category}|{method}"))


def detect(
    client: Client,
    tenants: Sequence[str],
    start: date,
    end: date,
    method: AnomalyMethod,
    *,
    min_impact_usd: float,
    daily_limits: dict[str, float] | None = None,
) -> list[Found]:
    """Anomalies of the tenants' category series on [start, end]."""
    if not tenants:
        return []
    first = start - timedelta(days=BASELINE_DAYS)
    keys, matrix = daily_series_by_category(client, tenants, first, end)
    if not keys:
        return []
    if method == "threshold":
        limits = daily_limits or {}
        rows = [i for i, (_, category) in enumerate(keys) if category in limits]
        keys = [keys[i] for i in rows]
        matrix = matrix[rows]
        if not keys:
            return []
        results = detect_many(
            matrix,
            first,
            "threshold",
            min_impact_usd=min_impact_usd,
            threshold_limit=[limits[c] for _, c in keys],
            score_from=BASELINE_DAYS,
        )
    else:
        results = detect_many(matrix, first, method, min_impact_usd=min_impact_usd, score_from=BASELINE_DAYS)
    hits = [(tenant, category, d) for (tenant, category), found in zip(keys, results, strict=True) for d in found]
    causes = _root_causes(client, hits)
    return [Found(t, c, d, causes.get((t, c, d.day), [])) for t, c, d in hits]  # type: ignore[arg-type]


def store(
    client: Client, found: list[Found], *, tenants: Sequence[str], start: date, end: date, method: str
) -> datetime:
    """Write the detections, and mark inactive what an earlier run found on these days and this one did not."""
    detected_at = datetime.now(UTC)
    rows = [
        [
            anomaly_id(f.tenant_id, f.day, f.category, method),
            f.tenant_id,
            f.day,
            f.category,
            method,
            True,
            f.detection.direction,
            f.detection.severity,
            _money(f.detection.expected),
            _money(f.detection.actual),
            _money(f.detection.impact),
            f.detection.deviation_percent if f.detection.deviation_percent is not None else float("nan"),
            f.detection.score,
            json.dumps([_cause_json(c) for c in f.causes]),
            detected_at,
        ]
        for f in found
    ]
    current = {row[0] for row in rows}
    stale = client.query(
        "SELECT * EXCEPT (active, detected_at) FROM cost_anomalies FINAL "
        "WHERE tenant_id IN {tenants:Array(String)} AND anomaly_date BETWEEN {start:Date} AND {end:Date} "
        "AND method = {method:String} AND active",
        parameters={"tenants": list(tenants), "start": start, "end": end, "method": method},
    ).result_rows
    for row in stale:
        if str(row[0]) not in current:
            rows.append([str(row[0]), *row[1:5], False, *row[5:], detected_at])
    if rows:
        client.insert("cost_anomalies", rows, column_names=_COLUMNS)
    return detected_at


def list_anomalies(
    client: Client,
    tenant_id: str,
    start: date,
    end: date,
    method: str,
    *,
    severity: str | None = None,
    category: str | None = None,
    direction: str | None = None,
) -> list[AnomalyOut]:
    rows = client.query(
        f"SELECT {_SELECT} FROM (SELECT * FROM cost_anomalies FINAL "
        "WHERE tenant_id = {tenant:String} AND anomaly_date BETWEEN {start:Date} AND {end:Date} AND method = {method:String}) AS a "
        "LEFT JOIN (SELECT * FROM cost_anomaly_acknowledgements FINAL WHERE tenant_id = {tenant:String}) AS k "
        "ON a.id = k.anomaly_id "
        "WHERE a.active AND ({severity:String} = '' OR a.severity = {severity:String}) "
        "AND ({category:String} = '' OR a.service_category = {category:String}) "
        "AND ({direction:String} = '' OR a.direction = {direction:String}) "
        "ORDER BY a.anomaly_date DESC, a.impact DESC",
        parameters={
            "tenant": tenant_id,
            "start": start,
            "end": end,
            "method": method,
            "severity": severity or "",
            "category": category or "",
            "direction": direction or "",
        },
    ).result_rows
    return [_anomaly_out(row) for row in rows]


def find(client: Client, anomaly_id_: str) -> AnomalyOut | None:
    try:
        canonical = str(uuid.UUID(anomaly_id_))
    except ValueError:
        return None
    rows = client.query(
        f"SELECT {_SELECT} FROM (SELECT * FROM cost_anomalies FINAL WHERE id = {{id:UUID}}) AS a "
        "LEFT JOIN (SELECT * FROM cost_anomaly_acknowledgements FINAL WHERE anomaly_id = {id:UUID}) AS k "
        "ON a.id = k.anomaly_id WHERE a.active",
        parameters={"id": canonical},
    ).result_rows
    return _anomaly_out(rows[0]) if rows else None


def acknowledge(client: Client, anomaly: AnomalyOut, *, by: str, note: str) -> AnomalyOut:
    """Record who acknowledged the anomaly and when; acknowledging again keeps the first record."""
    if anomaly.acknowledged is None:
        client.insert(
            "cost_anomaly_acknowledgements",
            [[anomaly.tenant_id, anomaly.id, by, datetime.now(UTC), note]],
            column_names=["tenant_id", "anomaly_id", "acknowledged_by", "acknowledged_at", "note"],
        )
    found = find(client, anomaly.id)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


# --- internals -----------------------------------------------------------------------------------------

_COLUMNS = [
    "id",
    "tenant_id",
    "anomaly_date",
    "service_category",
    "method",
    "active",
    "direction",
    "severity",
    "expected_cost",
    "actual_cost",
    "impact",
    "deviation_percent",
    "score",
    "root_causes",
    "detected_at",
]
_SELECT = (
    "toString(a.id), a.tenant_id, a.anomaly_date, a.service_category, a.method, a.direction, a.severity, "
    "a.expected_cost, a.actual_cost, a.impact, a.deviation_percent, a.score, a.root_causes, a.detected_at, "
    "k.acknowledged_by, k.acknowledged_at, k.note, k.anomaly_id = a.id"
)


def _anomaly_out(row: Sequence[Any]) -> AnomalyOut:
    deviation = row[10]
    return AnomalyOut(
        id=row[0],
        tenant_id=row[1],
        date_=row[2],
        category=row[3],
        method=row[4],
        direction=row[5],
        severity=row[6],
        expected=row[7],
        actual=row[8],
        impact=row[9],
        deviation_percent=None if deviation is None or np.isnan(deviation) else round(float(deviation), 2),
        score=round(float(row[11]), 3),
        root_cause=[RootCauseOut(**c) for c in json.loads(row[12] or "[]")],
        acknowledged=Acknowledgement(acknowledged_by=row[14], acknowledged_at=row[15], note=row[16])
        if row[17]
        else None,
        detected_at=row[13],
    )


def _root_causes(
    client: Client, hits: list[tuple[str, str, Detection]]
) -> dict[tuple[str, str, date], list[Contributor]]:
    """Explain each detection: cost per model, region and service on the day vs the window before it."""
    if not hits:
        return {}
    days = [d.day for _, _, d in hits if d.day is not None]
    tenants = sorted({t for t, _, _ in hits})
    first, last = min(days) - timedelta(days=ROOT_CAUSE_WINDOW), max(days)
    rows_sql, params = effective_rows(client, tenants, first, last)
    rows = client.query(
        f"SELECT tenant_id, toString(service_category), day, dim.1, dim.2, sum(billed_cost) FROM ({rows_sql}) "
        "ARRAY JOIN [('model', toString(model)), ('region', toString(region_id)), ('service', toString(service_name))] AS dim "
        "WHERE dim.2 != '' GROUP BY 1, 2, 3, 4, 5",
        parameters=params,
    ).result_rows
    costs: dict[tuple[str, str], dict[date, dict[str, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    for tenant, category, day, dimension, key, cost in rows:
        costs[(tenant, category)][day][dimension][key] = float(cost)
    explained = {}
    for tenant, category, detection in hits:
        day = detection.day
        assert day is not None
        series = costs.get((tenant, category), {})
        baseline: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for offset in range(1, ROOT_CAUSE_WINDOW + 1):
            for dimension, values in series.get(day - timedelta(days=offset), {}).items():
                for key, cost in values.items():
                    baseline[dimension][key] += cost / ROOT_CAUSE_WINDOW
        explained[(tenant, category, day)] = root_cause(
            series.get(day, {}), baseline, expected_total=detection.expected
        )
    return explained


def _cause_json(c: Contributor) -> dict[str, Any]:
    return {
        "dimension": c.dimension,
        "key": c.value,
        "actual": round(c.actual, 6),
        "expected": round(c.expected, 6),
        "change": round(c.change, 6),
        "share": round(c.share, 4),
        "firstSeen": c.new,
    }


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


# --- the endpoints' and the daily job's work -----------------------------------------------------------


def detect_and_list(
    client: Client,
    tenant_id: str,
    start: date,
    end: date,
    method: AnomalyMethod,
    *,
    severity: str | None,
    category: str | None,
    direction: str | None,
) -> AnomaliesResponse:
    """Detection runs on read (it is cheap and idempotent), so the answer always reflects the latest spend."""
    from finops.settings import get_settings

    settings = get_settings()
    found = detect(
        client,
        [tenant_id],
        start,
        end,
        method,
        min_impact_usd=settings.anomaly_min_impact_usd,
        daily_limits=settings.anomaly_daily_limits,
    )
    store(client, found, tenants=[tenant_id], start=start, end=end, method=method)
    anomalies = list_anomalies(
        client, tenant_id, start, end, method, severity=severity, category=category, direction=direction
    )
    return AnomaliesResponse(tenant_id=tenant_id, from_=start, to=end, method=method, anomalies=anomalies)


@dataclass(frozen=True)
class DailyDetectionReport:
    day: date
    tenants: int
    anomalies: int
    high: int
    alerts_queued: int


def run_daily_detection(client: Client, *, today: date, notify: Any = None) -> DailyDetectionReport:
    """The 03:00 UTC job: yesterday, every tenant with recent spend; `notify(list[AnomalyOut])` queues alerts
    for the high-severity ones (once each: the outbox is keyed by the anomaly's id)."""
    from finops.settings import get_settings

    settings = get_settings()
    yesterday = today - timedelta(days=1)
    tenants = [
        row[0]
        for row in client.query(
            "SELECT DISTINCT tenant_id FROM usage_ingest_log WHERE usage_date BETWEEN {first:Date} AND {day:Date}",
            parameters={"first": yesterday - timedelta(days=BASELINE_DAYS), "day": yesterday},
        ).result_rows
    ]
    found = detect(
        client,
        tenants,
        yesterday,
        yesterday,
        "auto",
        min_impact_usd=settings.anomaly_min_impact_usd,
        daily_limits=settings.anomaly_daily_limits,
    )
    store(client, found, tenants=tenants, start=yesterday, end=yesterday, method="auto")
    high = [
        a
        for t in sorted({f.tenant_id for f in found if f.detection.severity == "high"})
        for a in list_anomalies(client, t, yesterday, yesterday, "auto", severity="high")
    ]
    queued = notify(high) if notify is not None and high else 0
    return DailyDetectionReport(
        day=yesterday, tenants=len(tenants), anomalies=len(found), high=len(high), alerts_queued=queued
    )
