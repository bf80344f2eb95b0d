"""The forecast endpoint's work: read a tenant's daily spend from ClickHouse and forecast it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from clickhouse_connect.driver.client import Client
from pydantic import Field

from finops.costs.queries import CostReader, CostScope
from finops.forecasting.engine import Forecast, Method, forecast
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
    horizon_days: int = Field(alias="horizonDays", description="Days ahead each backtest forecast covered")
    points: int = Field(description="Backtest (day, forecast) pairs scored")


class ForecastResponse(Reply):
    tenant_id: str = Field(alias="tenantId")
    category: str | None
    as_of: date = Field(alias="asOf", description="History ends the day before")
    currency: str = CURRENCY
    method: str
    history_days: int = Field(alias="historyDays", description="Days of history the model used")
    points: list[ForecastPointOut]
    total: ForecastTotalOut
    accuracy: AccuracyOut
    weights: dict[str, float] = Field(description="For auto: the weight of each combined method")


def daily_spend(
    client: Client,
    tenant_id: str,
    start: date,
    end: date,
    categories: tuple[str, ...] = (),
    currency: str = CURRENCY,
) -> np.ndarray:
    """Daily totals (effective cost, in `currency`) over [start, end] (inclusive), days without spend as 0."""
    rows = CostReader(client).grouped(
        CostScope(tenant_id, start, end, categories, currency=currency), granularity="daily"
    )
    series = np.zeros((end - start).days + 1)
    for day, _, cost in rows:
        series[(day - start).days] = float(cost)
    return series


def get_forecast(
    client: Client,
    tenant_id: str,
    *,
    as_of: date,
    horizon_days: int,
    history_days: int,
    method: Method,
    category: str | None,
    currency: str = CURRENCY,
) -> ForecastResponse:
    start = as_of - timedelta(days=history_days)
    history = daily_spend(
        client, tenant_id, start, as_of - timedelta(days=1), (category,) if category else (), currency
    )
    result = forecast(history, horizon_days, method, start_date=as_of)
    return to_response(result, tenant_id=tenant_id, category=category, as_of=as_of, currency=currency)


def to_response(
    result: Forecast, *, tenant_id: str, category: str | None, as_of: date, currency: str = CURRENCY
) -> ForecastResponse:
    total = result.total
    accuracy = result.accuracy
    return ForecastResponse(
        tenant_id=tenant_id,
        category=category,
        as_of=as_of,
        currency=currency,
        method=result.method,
        history_days=result.history_days,
        points=[
            ForecastPointOut(
                date_=p.day or as_of,
                value=round(p.value, 6),
                lower80=round(p.lower80, 6),
                upper80=round(p.upper80, 6),
                lower95=round(p.lower95, 6),
                upper95=round(p.upper95, 6),
            )
            for p in result.points()
        ],
        total=ForecastTotalOut(
            value=round(total.value, 6),
            lower80=round(total.lower80, 6),
            upper80=round(total.upper80, 6),
            lower95=round(total.lower95, 6),
            upper95=round(total.upper95, 6),
        ),
        accuracy=AccuracyOut(
            mape=accuracy.mape,
            smape=accuracy.smape,
            mase=accuracy.mase,
            coverage80=accuracy.coverage80,
            coverage95=accuracy.coverage95,
            origins=accuracy.origins,
            horizon_days=accuracy.horizon_days,
            points=accuracy.points,
        ),
        weights=result.weights,
    )
