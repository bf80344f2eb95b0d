"""GET /v1/analytics/finops/forecast: a tenant's spend forecast with intervals and its backtest accuracy."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs import params
from finops.forecasting.engine import Method
from finops.forecasting.models import ForecastResponse
from finops.forecasting.spend import get_forecast
from finops.models.common import CURRENCY, ApiDate, Category

router = Router()


@router.get("/v1/analytics/finops/forecast", tags=["forecast"], summary="Spend forecast with 80%/95% intervals")
def forecast(
    principal: Caller,
    client: ClickHouse,
    tenant_id: params.Tenant,
    horizon_days: Annotated[int, Query(alias="horizonDays", ge=1, le=365)] = 30,
    history_days: Annotated[int, Query(alias="historyDays", ge=14, le=730)] = 90,
    method: Annotated[Method, Query()] = "auto",
    category: Annotated[Category | None, Query()] = None,
    as_of: Annotated[
        ApiDate | None, Query(alias="asOf", description="Default today (UTC); history ends the day before")
    ] = None,
    currency: params.Currency = CURRENCY,
) -> ForecastResponse:
    principal.require(Permission.READ_COSTS, tenant_id)
    return get_forecast(
        client,
        tenant_id,
        as_of=as_of,
        horizon_days=horizon_days,
        history_days=history_days,
        method=method,
        category=category,
        currency=currency,
    )


app = make_resolver(router)

lambda_handler = api_handler(app)
