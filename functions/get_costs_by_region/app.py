"""GET /v1/analytics/finops/costs/by-region: a tenant's costs by region, with each one's share."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import api_handler, current_principal, make_resolver
from finops.auth import Permission
from finops.costs.explorer import get_breakdown
from finops.costs.models import BreakdownResponse
from finops.costs.queries import METRIC_DESCRIPTION, CategoryList, ChargeCategoryList, Metric, make_scope
from finops.db.clickhouse import get_client
from finops.models.common import CURRENCY, ApiDate, CurrencyCode, TenantId

router = Router()


@router.get("/v1/analytics/finops/costs/by-region", tags=["costs"], summary="Costs by region")
def costs_by_region(
    tenant_id: Annotated[TenantId, Query(alias="tenantId")],
    from_: Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")],
    to: Annotated[ApiDate, Query(description="Last day (UTC), inclusive")],
    categories: Annotated[CategoryList | None, Query()] = None,
    metric: Annotated[Metric, Query(description=METRIC_DESCRIPTION)] = "effective",
    currency: Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")] = CURRENCY,
    charge_categories: Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")] = None,
) -> BreakdownResponse:
    current_principal(router).require(Permission.READ_COSTS, tenant_id)
    scope = make_scope(tenant_id, from_, to, categories, metric, currency, charge_categories)
    return get_breakdown(get_client(), scope, "region")


app = make_resolver(router)

lambda_handler = api_handler(app)
