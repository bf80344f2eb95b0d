"""Request and response models of the cost-explorer and aggregation endpoints."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, model_serializer, model_validator

from finops.models.common import CURRENCY, ApiDate, Money, Reply, RequestBody, TenantId


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


class CostsResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    currency: str = CURRENCY
    metric: str = Field("effective", description="effective (EffectiveCost) or billed (BilledCost)")
    group_by: str | None = Field(None, alias="groupBy")
    granularity: str
    total: Money
    rows: list[CostRow]


class ShareRow(Reply):
    key: str
    cost: Money
    share: float = Field(description="Share of the period's total, 0 to 1")


class BreakdownResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    currency: str = CURRENCY
    metric: str = Field("effective", description="effective (EffectiveCost) or billed (BilledCost)")
    dimension: str
    total: Money
    rows: list[ShareRow]


class Driver(Reply):
    dimension: str = Field(description="category, model, region or service")
    key: str
    cost: Money
    share: float = Field(description="Share of the period's total, 0 to 1")
    previous_cost: Money = Field(alias="previousCost", description="Cost in the previous period of the same length")
    change_percent: float | None = Field(None, alias="changePercent", description="null when the previous cost was 0")


class TopDriversResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    currency: str = CURRENCY
    metric: str = Field("effective", description="effective (EffectiveCost) or billed (BilledCost)")
    total: Money
    drivers: list[Driver]


class PeriodTotal(Reply):
    from_: date = Field(alias="from")
    to: date
    total: Money


class MonthToDate(Reply):
    from_: date = Field(alias="from")
    to: date
    total: Money
    run_rate: Money = Field(alias="runRate", description="Month-to-date spend extrapolated to the whole month")
    days_in_month: int = Field(alias="daysInMonth")


class SummaryResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    from_: date = Field(alias="from")
    to: date
    currency: str = CURRENCY
    metric: str = Field("effective", description="effective (EffectiveCost) or billed (BilledCost)")
    total: Money
    previous_period: PeriodTotal = Field(alias="previousPeriod")
    change_percent: float | None = Field(alias="changePercent", description="null when the previous period cost 0")
    by_category: list[ShareRow] = Field(alias="byCategory")
    top_drivers: list[Driver] = Field(alias="topDrivers")
    month_to_date: MonthToDate = Field(alias="monthToDate")


class AggregateRequest(RequestBody):
    """Either `date`, or `from` and `to` (inclusive, at most 400 days)."""

    date_: ApiDate | None = Field(None, alias="date")
    from_: ApiDate | None = Field(None, alias="from")
    to: ApiDate | None = None
    tenant_id: TenantId | None = Field(None, alias="tenantId", description="Only this tenant (default: all tenants)")
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
    fact_rows: int = Field(alias="factRows")
    seconds: float


class AggregateResponse(Reply):
    tenant_id: str | None = Field(None, alias="tenantId")
    repriced: bool
    days: list[AggregatedDay]
