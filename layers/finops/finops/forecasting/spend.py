"""A tenant's spend forecast, the forecast endpoint's use case: its daily spend read from ClickHouse (the cost
domain's reports), forecast by the engine, shaped as the reply."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from clickhouse_connect.driver.client import Client

from finops.costs.queries import CostReader, CostScope
from finops.forecasting.engine import Forecast, Method, forecast
from finops.forecasting.models import AccuracyOut, ForecastPointOut, ForecastResponse, ForecastTotalOut
from finops.models.common import CURRENCY, Category


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
    as_of: date | None,
    horizon_days: int,
    history_days: int,
    method: Method,
    category: Category | None,
    currency: str = CURRENCY,
) -> ForecastResponse:
    """The forecast of `horizon_days` from `as_of` (default today, UTC) on the `history_days` before it, of one
    category's spend or of all."""
    as_of = as_of or datetime.now(UTC).date()
    name = category.value if category else None
    start = as_of - timedelta(days=history_days)
    history = daily_spend(client, tenant_id, start, as_of - timedelta(days=1), (name,) if name else (), currency)
    result = forecast(history, horizon_days, method, start_date=as_of)
    return to_response(result, tenant_id=tenant_id, category=name, as_of=as_of, currency=currency)


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
