"""Detection over the stored spend, shared by the endpoints and the daily job: score the tenants' category
series, explain each anomalous day by what drove it, and shape the replies with their acknowledgements.

Detection runs per tenant and category on daily spend (the effective cost rows: facts plus live events), each
day judged on the history `detection.detect_range` gives it. The detectors' settings (minimum impact, daily
limits of the threshold method) are the container's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from finops.anomalies.detection import AnomalyMethod, Detection, detect_range, history_start
from finops.anomalies.ids import anomaly_id
from finops.anomalies.models import Acknowledgement, AnomalyOut, RootCauseOut
from finops.anomalies.root_cause import Contributor, root_cause
from finops.anomalies.store import AnomalyRow, acknowledgements, costs_by_dimension
from finops.costs.series import daily_series_by_category
from finops.settings import get_settings

ROOT_CAUSE_WINDOW = 28  # baseline days of the root-cause comparison


@dataclass(frozen=True)
class Found:
    """One detection with its series key and explanation."""

    tenant_id: str
    category: str
    detection: Detection
    causes: list[Contributor]

    @property
    def day(self) -> date:
        assert self.detection.day is not None
        return self.detection.day

    def reply(self, method: str, detected_at: datetime) -> AnomalyOut:
        detection = self.detection
        return AnomalyOut(
            id=anomaly_id(self.tenant_id, self.day, self.category, method),
            tenant_id=self.tenant_id,
            date_=self.day,
            category=self.category,
            method=method,
            direction=detection.direction,
            severity=detection.severity,
            expected=_money(detection.expected),
            actual=_money(detection.actual),
            impact=_money(detection.impact),
            deviation_percent=round(detection.deviation_percent, 2)
            if detection.deviation_percent is not None
            else None,
            score=round(float(detection.score), 3),
            root_cause=[RootCauseOut(**_cause_json(c)) for c in self.causes],
            detected_at=detected_at,
        )

    def row(self, method: str, detected_at: datetime) -> AnomalyRow:
        detection = self.detection
        return AnomalyRow(
            id=anomaly_id(self.tenant_id, self.day, self.category, method),
            tenant_id=self.tenant_id,
            anomaly_date=self.day,
            service_category=self.category,
            method=method,
            active=True,
            direction=detection.direction,
            severity=detection.severity,
            expected_cost=_money(detection.expected),
            actual_cost=_money(detection.actual),
            impact=_money(detection.impact),
            deviation_percent=detection.deviation_percent if detection.deviation_percent is not None else float("nan"),
            score=detection.score,
            root_causes=json.dumps([_cause_json(c) for c in self.causes]),
            detected_at=detected_at,
        )


def scan(client: Client, tenants: Sequence[str], start: date, end: date, method: AnomalyMethod) -> list[Found]:
    """Anomalies of the tenants' category series on [start, end]; each day is judged on the history
    `detect_range` gives it, so its verdict is the same whatever range it is asked in. Today is not judged: its
    spend so far is a partial day, which would read as a drop against a whole day's expectation."""
    end = min(end, datetime.now(UTC).date() - timedelta(days=1))
    if not tenants or start > end:
        return []
    settings = get_settings()
    first = history_start(start)
    keys, matrix = daily_series_by_category(client, tenants, first, end)
    if not keys:
        return []
    if method == "threshold":
        limits = settings.anomaly_daily_limits or {}
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
            min_impact_usd=settings.anomaly_min_impact_usd,
            threshold_limit=[limits[c] for _, c in keys],
        )
    else:
        results = detect_range(matrix, first, start, end, method, min_impact_usd=settings.anomaly_min_impact_usd)
    hits = [(tenant, category, d) for (tenant, category), found in zip(keys, results, strict=True) for d in found]
    causes = explain(client, hits)
    return [Found(t, c, d, causes.get((t, c, d.day), [])) for t, c, d in hits]  # type: ignore[arg-type]


def explain(client: Client, hits: list[tuple[str, str, Detection]]) -> dict[tuple[str, str, date], list[Contributor]]:
    """Explain each detection: cost per model, region and service on the day vs the window before it."""
    if not hits:
        return {}
    days = [d.day for _, _, d in hits if d.day is not None]
    tenants = sorted({t for t, _, _ in hits})
    costs: dict[tuple[str, str], dict[date, dict[str, dict[str, float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(dict))
    )
    for row in costs_by_dimension(client, tenants, min(days) - timedelta(days=ROOT_CAUSE_WINDOW), max(days)):
        costs[(row.tenant_id, row.category)][row.day][row.dimension][row.value] = float(row.cost)
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


def replies(client: Client, found: Sequence[Found], method: str, *, detected_at: datetime) -> list[AnomalyOut]:
    """Replies for detections, with their acknowledgements, newest day first, then by impact."""
    answers = [f.reply(method, detected_at) for f in found]
    by_tenant: dict[str, list[AnomalyOut]] = defaultdict(list)
    for answer in answers:
        by_tenant[answer.tenant_id].append(answer)
    for tenant, tenant_answers in by_tenant.items():
        acks = acknowledgements_of(client, tenant, [a.id for a in tenant_answers])
        for answer in tenant_answers:
            answer.acknowledged = acks.get(answer.id)
    return sorted(answers, key=lambda a: (a.date_, a.impact), reverse=True)


def acknowledgements_of(client: Client, tenant_id: str, ids: Sequence[str]) -> dict[str, Acknowledgement]:
    """The first acknowledgement of each of some anomalies of a tenant, by anomaly id."""
    return {
        row.id: Acknowledgement(acknowledged_by=row.acknowledged_by, acknowledged_at=row.acknowledged_at, note=row.note)
        for row in acknowledgements(client, tenant_id, ids)
    }


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
