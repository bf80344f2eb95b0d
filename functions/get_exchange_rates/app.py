"""GET /v1/analytics/finops/exchange-rates: the exchange rates in effect on a day (any authenticated caller)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.currencies.models import ExchangeRatesResponse
from finops.currencies.rates import exchange_rates_response, load_exchange_rates
from finops.models.common import ApiDate

router = Router()


@router.get("/v1/analytics/finops/exchange-rates", tags=["currencies"], summary="Exchange rates in effect on a day")
def exchange_rates(
    principal: Caller,  # rates are not tenant data, but only callers with a valid token see them
    client: ClickHouse,
    as_of: Annotated[ApiDate | None, Query(alias="asOf", description="Default: today (UTC)")] = None,
) -> ExchangeRatesResponse:
    return exchange_rates_response(load_exchange_rates(client), as_of or datetime.now(UTC).date())


app = make_resolver(router)

lambda_handler = api_handler(app)
