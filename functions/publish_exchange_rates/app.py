"""POST /v1/analytics/finops/exchange-rates: publish effective-dated exchange rates, a new version (system only)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.currencies.models import ExchangeRatesResponse, PublishExchangeRatesRequest
from finops.currencies.rates import publish_exchange_rates

router = Router()


@router.post(
    "/v1/analytics/finops/exchange-rates", tags=["currencies"], summary="Publish exchange rates from their dates on"
)
def publish(principal: Caller, client: ClickHouse, request: PublishExchangeRatesRequest) -> ExchangeRatesResponse:
    principal.require(Permission.MANAGE_RATE_CARD, None)
    return publish_exchange_rates(client, request)


app = make_resolver(router)

lambda_handler = api_handler(app)
