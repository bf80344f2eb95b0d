"""GET /v1/analytics/finops/costs/top-drivers: the model/region/service/category values that cost most."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs import params
from finops.costs.explorer import get_top_drivers
from finops.costs.models import TopDriversResponse
from finops.models.common import CURRENCY

router = Router()


@router.get("/v1/analytics/finops/costs/top-drivers", tags=["costs"], summary="Top cost drivers with their change")
def top_drivers(
    principal: Caller,
    client: ClickHouse,
    tenant_id: params.Tenant,
    from_: params.From,
    to: params.To,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    metric: params.Metric = "effective",
    currency: params.Currency = CURRENCY,
    charge_categories: params.ChargeCategories = None,
) -> TopDriversResponse:
    principal.require(Permission.READ_COSTS, tenant_id)
    scope = params.make_scope(tenant_id, from_, to, None, metric, currency, charge_categories)
    return get_top_drivers(client, scope, limit=limit)


app = make_resolver(router)

lambda_handler = api_handler(app)
