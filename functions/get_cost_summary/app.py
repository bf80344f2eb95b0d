"""GET /v1/analytics/finops/costs/summary: total, previous period, categories, top drivers, month to date."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs import params
from finops.costs.explorer import get_summary
from finops.costs.models import SummaryResponse
from finops.models.common import CURRENCY

router = Router()


@router.get("/v1/analytics/finops/costs/summary", tags=["costs"], summary="Cost summary of a period")
def summary(
    principal: Caller,
    client: ClickHouse,
    tenant_id: params.Tenant,
    from_: params.From,
    to: params.To,
    metric: params.Metric = "effective",
    currency: params.Currency = CURRENCY,
    charge_categories: params.ChargeCategories = None,
) -> SummaryResponse:
    principal.require(Permission.READ_COSTS, tenant_id)
    return get_summary(client, params.make_scope(tenant_id, from_, to, None, metric, currency, charge_categories))


app = make_resolver(router)

lambda_handler = api_handler(app)
