"""GET /v1/analytics/finops/costs/by-model: a tenant's costs by model, with each one's share."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, api_handler, make_resolver
from finops.auth import Permission
from finops.costs.explorer import get_breakdown
from finops.costs.models import BreakdownResponse
from finops.costs.queries import METRIC_DESCRIPTION, CategoryList, ChargeCategoryList, Metric, make_scope
from finops.db.clickhouse import ClickHouse
from finops.models.common import CURRENCY, ApiDate, CurrencyCode, TenantId

router = Router()


@router.get("/v1/analytics/finops/costs/by-model", tags=["costs"], summary="Costs by model")
def costs_by_model(
    principal: Caller,
    client: ClickHouse,
    tenant_id: Annotated[TenantId, Query(alias="tenantId")],
    from_: Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")],
    to: Annotated[ApiDate, Query(description="Last day (UTC), inclusive")],
    categories: Annotated[CategoryList | None, Query()] = None,
    metric: Annotated[Metric, Query(description=METRIC_DESCRIPTION)] = "effective",
    currency: Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")] = CURRENCY,
    charge_categories: Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")] = None,
) -> BreakdownResponse:
    principal.require(Permission.READ_COSTS, tenant_id)
    scope = make_scope(tenant_id, from_, to, categories, metric, currency, charge_categories)
    return get_breakdown(client, scope, "model")


app = make_resolver(router)

lambda_handler = api_handler(app)
