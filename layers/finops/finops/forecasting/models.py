"""The forecast endpoint's reply models (camelCase on the wire, generated from the field names)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from finops.models.common import CURRENCY, Reply


class ForecastPointOut(Reply):
    date_: date = Field(alias="date")
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


class ForecastTotalOut(Reply):
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


class AccuracyOut(Reply):
    mape: float | None = Field(description="Mean absolute percentage error of the backtest (null if an actual was 0)")
    smape: float = Field(description="Symmetric MAPE, 0-200 (scale-free, defined on zero days)")
    mase: float | None = Field(description="Mean absolute scaled error vs the seasonal-naive forecast (<1: better)")
    coverage80: float | None = Field(description="Share of backtest actuals inside the 80% intervals")
    coverage95: float | None = Field(description="Share of backtest actuals inside the 95% intervals")
    origins: int = Field(description="Backtest forecast origins")
    horizon_days: int = Field(description="Days ahead each backtest forecast covered")
    points: int = Field(description="Backtest (day, forecast) pairs scored")


class ForecastResponse(Reply):
    tenant_id: str
    category: str | None
    as_of: date = Field(description="History ends the day before")
    currency: str = CURRENCY
    method: str
    history_days: int = Field(description="Days of history the model used")
    points: list[ForecastPointOut]
    total: ForecastTotalOut
    accuracy: AccuracyOut
    weights: dict[str, float] = Field(description="For auto: the weight of each combined method")
