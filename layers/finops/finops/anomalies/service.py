"""Anomaly detection over ClickHouse spend: run the detectors, explain each anomaly, acknowledge it.

Detection runs per tenant and category on daily spend (the effective cost rows: facts plus live events), with
`BASELINE_DAYS` of history before the first day scored. Reading anomalies detects them on the spot and stores
nothing (a read never writes); the 03:00 job stores what it finds in `cost_anomalies` (its alerts refer to those
rows). An anomaly's id is made from (tenant, day, category, method) and says which day, category and method it
is, so an acknowledgement can be checked against a fresh detection of exactly that day and kept (first one
stands) in its own table, which no detection ever rewrites.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from clickhouse_connect.driver.client import Client
from pydantic import AfterValidator, Field

from finops.anomalies.detection import AnomalyMethod, Detection, detect_range, history_start
from finops.anomalies.root_cause import Contributor, root_cause
from finops.auth import Permission, Principal
from finops.costs.queries import effective_rows, imported_currencies
from finops.costs.series import daily_series_by_category
from finops.errors import NotFound
from finops.models.common import CURRENCY, Money, Reply, RequestBody, UtcDateTime
from finops.settings import get_settings

BASELINE_DAYS = 90  # history before the first scored day: the seasonal detector learns 8 weeks of errors
ROOT_CAUSE_WINDOW = 28  # baseline days of the root-cause comparison
NOT_FOUND = "anomaly not found"


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no infinity (a z-score over a baseline without variation is one): say null, as documented,
    # rather than let the serializer turn it into a null the schema does not allow.
    return value if value is None or math.isfinite(value) else None


FiniteOrNull = Annotated[float | None, AfterValidator(_finite_or_none)]


class RootCauseOut(Reply):
    dimension: str = Field(description="model, region or service")
    key: str
    actual: float = Field(description="Cost on the anomalous day")
    expected: float = Field(description="Baseline daily cost, scaled to the expected total")
    change: float = Field(description="actual - expected, USD")
    share: float = Field(description="Share of the day's difference (negative: moved against it)")
    first_seen: bool = Field(alias="firstSeen", description="No cost in the baseline window: new on this day")


class Acknowledgement(Reply):
    acknowledged_by: str = Field(alias="acknowledgedBy")
    acknowledged_at: UtcDateTime = Field(alias="acknowledgedAt")
    note: str


class AnomalyOut(Reply):
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


class AnomaliesResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    method: str
    currency: str = CURRENCY
    anomalies: list[AnomalyOut]


class AcknowledgeRequest(RequestBody):
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


# Anomaly ids are RFC 9562 UUIDv8: 88 bits of a hash of the tenant, the day, the category and the method, so an
# acknowledgement can find the day to check from the id alone. Codes are append-only: never renumber one.
_CATEGORY_CODES = {"AI": 1, "COMPUTE": 2, "STORAGE": 3, "EXPORT": 4, "EGRESS": 5}
_METHOD_CODES = {"auto": 1, "statistical": 2, "threshold": 3, "seasonal": 4}
_ID_LAYOUT = 1
_LOW_40 = (1 << 40) - 1


@dataclass(frozen=True)
class AnomalyKey:
    """What an anomaly id says: the day, category and method, and the hash of the tenant."""

    day: date
    category: str
    method: AnomalyMethod
    tenant_hash: int

    def belongs_to(self, tenant_id: str) -> bool:
        return _tenant_hash(tenant_id) == self.tenant_hash


def _tenant_hash(tenant_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(tenant_id.encode(), digest_size=11).digest(), "big")


def anomaly_id(tenant_id: str, day: date, category: str, method: str) -> str:
    tenant = _tenant_hash(tenant_id)
    value = (
        (tenant >> 40) << 80
        | 8 << 76  # version 8
        | _CATEGORY_CODES[category] << 72
        | _METHOD_CODES[method] << 68
        | _ID_LAYOUT << 64
        | 0b10 << 62  # RFC variant
        | day.toordinal() << 40
        | tenant & _LOW_40
    )
    return str(uuid.UUID(int=value))


def parse_anomaly_id(value: str) -> AnomalyKey | None:
    """The key an id encodes, or None when the text is not an anomaly id of this service."""
    try:
        number = uuid.UUID(value).int
    except (ValueError, AttributeError, TypeError):
        return None
    categories = {code: name for name, code in _CATEGORY_CODES.items()}
    methods = {code: name for name, code in _METHOD_CODES.items()}
    category, method = categories.get(number >> 72 & 0xF), methods.get(number >> 68 & 0xF)
    ordinal = number >> 40 & ((1 << 22) - 1)
    if number >> 76 & 0xF != 8 or number >> 64 & 0xF != _ID_LAYOUT or number >> 62 & 0b11 != 0b10:
        return None
    if category is None or method is None or ordinal < 1:
        return None
    return AnomalyKey(
        day=date.fromordinal(ordinal),
        category=category,
        method=method,  # type: ignore[arg-type]
        tenant_hash=(number >> 80) << 40 | number & _LOW_40,
    )


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
    """Anomalies of the tenants' category series on [start, end]; each day is judged on the history
    `detect_range` gives it, so its verdict is the same whatever range it is asked in. Today is not judged: its
    spend so far is a partial day, which would read as a drop against a whole day's expectation."""
    end = min(end, datetime.now(UTC).date() - timedelta(days=1))
    if not tenants or start > end:
        return []
    first = history_start(start)
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
        results = detect_range(
            matrix,
            first,
            start,
            end,
            "threshold",
            min_impact_usd=min_impact_usd,
            threshold_limit=[limits[c] for _, c in keys],
        )
    else:
        results = detect_range(matrix, first, start, end, method, min_impact_usd=min_impact_usd)
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


def acknowledgements(client: Client, tenant_id: str, ids: Sequence[str]) -> dict[str, Acknowledgement]:
    """The first acknowledgement of each of some anomalies of a tenant."""
    if not ids:
        return {}
    rows = client.query(
        "SELECT toString(anomaly_id) AS id, acknowledged_by, acknowledged_at, note "
        "FROM cost_anomaly_acknowledgements_v2 FINAL "
        "WHERE tenant_id = {tenant:String} AND anomaly_id IN {ids:Array(UUID)}",
        parameters={"tenant": tenant_id, "ids": list(ids)},
    ).named_results()
    return {
        row["id"]: Acknowledgement(
            acknowledged_by=row["acknowledged_by"], acknowledged_at=row["acknowledged_at"], note=row["note"]
        )
        for row in rows
    }


def to_replies(client: Client, found: Sequence[Found], method: str, *, detected_at: datetime) -> list[AnomalyOut]:
    """Replies for detections, with their acknowledgements, newest day first, then by impact."""
    replies = [_anomaly_out(f, method, detected_at) for f in found]
    by_tenant: dict[str, list[AnomalyOut]] = defaultdict(list)
    for reply in replies:
        by_tenant[reply.tenant_id].append(reply)
    for tenant, tenant_replies in by_tenant.items():
        acks = acknowledgements(client, tenant, [r.id for r in tenant_replies])
        for reply in tenant_replies:
            reply.acknowledged = acks.get(reply.id)
    return sorted(replies, key=lambda r: (r.date_, r.impact), reverse=True)


def acknowledge(client: Client, principal: Principal, anomaly_id_: str, *, note: str) -> AnomalyOut:
    """Record who reviewed an anomaly and when; the first acknowledgement stands. 404 unless the caller may see
    the anomaly and a fresh detection of its day still finds it; 403 for a reader who may not acknowledge."""
    key = parse_anomaly_id(anomaly_id_)
    tenant = _tenant_of(client, principal, key) if key is not None else None
    if key is None or tenant is None:
        raise NotFound(NOT_FOUND)
    principal.require(Permission.ACKNOWLEDGE_ANOMALIES, tenant)
    settings = get_settings()
    found = detect(
        client,
        [tenant],
        key.day,
        key.day,
        key.method,
        min_impact_usd=settings.anomaly_min_impact_usd,
        daily_limits=settings.anomaly_daily_limits,
    )
    canonical = str(uuid.UUID(anomaly_id_))
    matching = [f for f in found if anomaly_id(f.tenant_id, f.day, f.category, key.method) == canonical]
    if not matching:
        raise NotFound(NOT_FOUND)
    if canonical not in acknowledgements(client, tenant, [canonical]):
        client.insert(
            "cost_anomaly_acknowledgements_v2",
            [[tenant, canonical, principal.subject, datetime.now(UTC), note]],
            column_names=["tenant_id", "anomaly_id", "acknowledged_by", "acknowledged_at", "note"],
        )
    return to_replies(client, matching, key.method, detected_at=datetime.now(UTC))[0]


def _tenant_of(client: Client, principal: Principal, key: AnomalyKey) -> str | None:
    """The tenant an anomaly key belongs to, among those the caller may read (a system caller: every tenant that
    had spend on that day); None when it is none of them."""
    if not principal.is_system:
        tenant = principal.tenant_id
        return tenant if tenant is not None and key.belongs_to(tenant) else None
    tenants = client.query(
        "SELECT DISTINCT tenant_id FROM usage_ingest_log WHERE usage_date = {day:Date}", parameters={"day": key.day}
    ).result_columns
    return next((t for t in (tenants[0] if tenants else []) if key.belongs_to(t)), None)


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


def _anomaly_out(found: Found, method: str, detected_at: datetime) -> AnomalyOut:
    detection = found.detection
    return AnomalyOut(
        id=anomaly_id(found.tenant_id, found.day, found.category, method),
        tenant_id=found.tenant_id,
        date_=found.day,
        category=found.category,
        method=method,
        direction=detection.direction,
        severity=detection.severity,
        expected=_money(detection.expected),
        actual=_money(detection.actual),
        impact=_money(detection.impact),
        deviation_percent=round(detection.deviation_percent, 2) if detection.deviation_percent is not None else None,
        score=round(float(detection.score), 3),
        root_cause=[RootCauseOut(**_cause_json(c)) for c in found.causes],
        detected_at=detected_at,
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
    rows_sql, params = effective_rows(tenants, first, last, imported=imported_currencies(client))
    rows = client.query(
        f"SELECT tenant_id, toString(service_category), day, dim.1, dim.2, sum(reported_cost) FROM ({rows_sql}) "
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
    """Detection runs on read (it is cheap), so the answer always reflects the latest spend; it stores nothing."""
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
    wanted = [
        f
        for f in found
        if (severity is None or f.detection.severity == severity)
        and (category is None or f.category == category)
        and (direction is None or f.detection.direction == direction)
    ]
    anomalies = to_replies(client, wanted, method, detected_at=datetime.now(UTC))
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
    detected_at = store(client, found, tenants=tenants, start=yesterday, end=yesterday, method="auto")
    high = to_replies(client, [f for f in found if f.detection.severity == "high"], "auto", detected_at=detected_at)
    queued = notify(high) if notify is not None and high else 0
    return DailyDetectionReport(
        day=yesterday, tenants=len(tenants), anomalies=len(found), high=len(high), alerts_queued=queued
    )
