"""Request and response models of the costs endpoints: the cost explorer, aggregation, the rate card and telemetry
ingestion (a usage event's own wire model, validated a batch at a time, is finops.costs.telemetry's)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_serializer, model_validator

from finops.costs.meters import METERS_BY_NAME
from finops.models.common import CURRENCY, ApiDate, Label, Money, Reply, RequestBody, TenantId, Usd

DEFAULT_KEY = "*"  # the price key of a meter's default price
MAX_UNIT_PRICE_USD = Decimal(10**6)  # per pricing unit (1M tokens, a GB, an export): far above any list price


class CostRow(Reply):
    period: date = Field(description="First day of the period")
    key: str | None = Field(None, description="The group's value (absent without groupBy)")
    cost: Money

    @model_serializer(mode="wrap")
    def _omit_missing_key(self, handler: Any) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("key") is None:
            data.pop("key", None)
        return data


class CostReport(Reply):
    """What every cost report says of itself: whose cost, which days, in which currency, which metric."""

    tenant_id: str
    from_: date = Field(alias="from")
    to: date
    currency: str = CURRENCY
    metric: str = Field("effective", description="effective (EffectiveCost) or billed (BilledCost)")


class CostsResponse(CostReport):
    group_by: str | None = None
    granularity: str
    total: Money
    rows: list[CostRow]


class ShareRow(Reply):
    key: str
    cost: Money
    share: float = Field(description="Share of the period's total, 0 to 1")


class BreakdownResponse(CostReport):
    dimension: str
    total: Money
    rows: list[ShareRow]


class Driver(Reply):
    dimension: str = Field(description="category, model, region or service")
    key: str
    cost: Money
    share: float = Field(description="Share of the period's total, 0 to 1")
    previous_cost: Money = Field(description="Cost in the previous period of the same length")
    change_percent: float | None = Field(None, description="null when the previous cost was 0")


class TopDriversResponse(CostReport):
    total: Money
    drivers: list[Driver]


class PeriodTotal(Reply):
    from_: date = Field(alias="from")
    to: date
    total: Money


class MonthToDate(PeriodTotal):
    run_rate: Money = Field(description="Month-to-date spend extrapolated to the whole month")
    days_in_month: int


class SummaryResponse(CostReport):
    total: Money
    previous_period: PeriodTotal
    change_percent: float | None = Field(description="null when the previous period cost 0")
    by_category: list[ShareRow]
    top_drivers: list[Driver]
    month_to_date: MonthToDate


class AggregateRequest(RequestBody):
    """Either `date`, or `from` and `to` (inclusive, at most 400 days)."""

    date_: ApiDate | None = Field(None, alias="date")
    from_: ApiDate | None = Field(None, alias="from")
    to: ApiDate | None = None
    tenant_id: TenantId | None = Field(None, description="Only this tenant (default: all tenants)")
    reprice: bool = Field(False, description="Re-rate the days' events with the rate card in effect on each day")

    @model_validator(mode="after")
    def _one_range(self) -> AggregateRequest:
        if self.date_ is not None and (self.from_ is not None or self.to is not None):
            raise ValueError("give either `date` or `from` and `to`, not both")
        if self.date_ is None and (self.from_ is None or self.to is None):
            raise ValueError("give `date`, or both `from` and `to`")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("`from` must be on or before `to`")
        return self

    @property
    def days(self) -> list[date]:
        if self.date_ is not None:
            return [self.date_]
        assert self.from_ is not None and self.to is not None
        return [date.fromordinal(o) for o in range(self.from_.toordinal(), self.to.toordinal() + 1)]


class AggregatedDay(Reply):
    date_: date = Field(alias="date")
    fact_rows: int
    seconds: float


class AggregateResponse(Reply):
    tenant_id: str | None = None
    repriced: bool
    days: list[AggregatedDay]


# --- the rate card ---------------------------------------------------------------------------------------


class RateCardEntry(Reply):
    version: int = 0
    effective_from: date
    meter: str
    price_key: str
    unit_price: Money
    pricing_unit: str
    source: str = ""


class NewPrice(RequestBody):
    meter: Label = Field(description="One of the meters, e.g. input_tokens, output_tokens, vcpu_seconds, egress_gb")
    price_key: Label = Field(
        DEFAULT_KEY,
        description="Model (AI meters), region (egress_gb), export type (exports), or '*' for the meter's default",
    )
    unit_price: Annotated[Usd, Field(le=MAX_UNIT_PRICE_USD)] = Field(
        description="USD per pricing unit, 0 to 10^6, at most 12 decimal places"
    )

    @property
    def pricing_unit(self) -> str:
        """The meter's pricing unit (the meter must be one of METERS_BY_NAME)."""
        return METERS_BY_NAME[self.meter].pricing_unit


class PublishRateCardRequest(RequestBody):
    effective_from: ApiDate
    source: Annotated[Label, Field(max_length=500)] = Field(
        description="Where these prices come from, 1 to 500 characters"
    )
    prices: list[NewPrice] = Field(min_length=1, max_length=5000)


class RateCardResponse(Reply):
    as_of: date
    currency: str
    prices: list[RateCardEntry]


# --- telemetry ingestion ---------------------------------------------------------------------------------


class TelemetryBatch(RequestBody):
    events: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=5000,
        description=(
            "Usage events. Common fields: eventId, tenantId, timestamp, category (AI, COMPUTE, STORAGE, EXPORT, "
            "EGRESS), service, region, optional costUsd. AI: model, inputTokens, outputTokens, optional "
            "cachedInputTokens. COMPUTE: vcpuSeconds, memoryGbSeconds. STORAGE: gbHours. EXPORT: exportType, "
            "exports, bytes. EGRESS: bytes. Each event is validated on its own."
        ),
    )


class RejectedEvent(Reply):
    index: int
    error: str


class FlaggedEvent(Reply):
    index: int
    warning: str


class IngestResult(Reply):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]
    flagged: list[FlaggedEvent] = Field(
        default_factory=list,
        description="Accepted events priced by a fallback (for example a model missing from the rate card)",
    )
    tenants: list[str] = Field(default_factory=list, exclude=True)  # whose spend changed; not part of the reply
