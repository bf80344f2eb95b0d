"""POST /v1/analytics/finops/rate-card: publish a new, effective-dated rate card version (system only)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs.models import PublishRateCardRequest, RateCardResponse
from finops.costs.rate_card import publish_rate_card

router = Router()


@router.post("/v1/analytics/finops/rate-card", tags=["rate card"], summary="Publish new prices from a date on")
def publish(principal: Caller, client: ClickHouse, request: PublishRateCardRequest) -> RateCardResponse:
    principal.require(Permission.MANAGE_RATE_CARD, None)
    return publish_rate_card(client, request)


app = make_resolver(router)

lambda_handler = api_handler(app)
