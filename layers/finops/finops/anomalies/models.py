"""The anomaly endpoints' request and reply models (camelCase on the wire, generated from the field names)."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from finops.models.common import CURRENCY, Money, Reply, RequestBody, UtcDateTime


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
    first_seen: bool = Field(description="No cost in the baseline window: new on this day")


class Acknowledgement(Reply):
    acknowledged_by: str
    acknowledged_at: UtcDateTime
    note: str


class AnomalyOut(Reply):
    id: str
    tenant_id: str
    date_: date = Field(alias="date")
    category: str
    method: str = Field(description="The detection method asked for")
    direction: Literal["up", "down"]
    severity: Literal["low", "medium", "high"]
    expected: Money
    actual: Money
    impact: Money = Field(description="actual - expected, USD")
    deviation_percent: FiniteOrNull
    score: FiniteOrNull = Field(
        description="How unusual the day is for its own series (|z|, or actual/limit); null when it is infinite "
        "(spend after a baseline with no variation at all, e.g. the first day of a new category)"
    )
    root_cause: list[RootCauseOut]
    acknowledged: Acknowledgement | None = None
    detected_at: UtcDateTime


class AnomaliesResponse(Reply):
    tenant_id: str
    from_: date = Field(alias="from")
    to: date
    method: str
    currency: str = CURRENCY
    anomalies: list[AnomalyOut]


class AcknowledgeRequest(RequestBody):
    note: str = Field("", max_length=1000, description="Why it is fine, or what was done")
