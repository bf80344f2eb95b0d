"""GET /v1/analytics/finops/rate-card: the unit prices in effect on a day (any authenticated caller)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.costs.models import RateCardResponse
from finops.costs.rate_card import current_rate_card, rate_card_response
from finops.models.common import ApiDate

router = Router()


@router.get("/v1/analytics/finops/rate-card", tags=["rate card"], summary="Prices in effect on a day")
def rate_card(
    principal: Caller,  # prices are not tenant data, but only callers with a valid token see them
    client: ClickHouse,
    as_of: Annotated[ApiDate | None, Query(alias="asOf", description="Default: today (UTC)")] = None,
) -> RateCardResponse:
    return rate_card_response(current_rate_card(client), as_of or datetime.now(UTC).date())


app = make_resolver(router)

lambda_handler = api_handler(app)
