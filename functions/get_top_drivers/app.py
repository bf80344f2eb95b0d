"""GET /v1/analytics/finops/costs/top-drivers: the model/region/service/category values that cost most."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import api_handler, current_principal, make_resolver
from finops.auth import Permission
from finops.costs.explorer import get_top_drivers
from finops.costs.models import TopDriversResponse
from finops.costs.queries import METRIC_DESCRIPTION, ChargeCategoryList, Metric, make_scope
from finops.db.clickhouse import get_client
from finops.models.common import CURRENCY, ApiDate, CurrencyCode, TenantId

router = Router()


@router.get("/v1/analytics/finops/costs/top-drivers", tags=["costs"], summary="Top cost drivers with their change")
def top_drivers(
    tenant_id: Annotated[TenantId, Query(alias="tenantId")],
    from_: Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")],
    to: Annotated[ApiDate, Query(description="Last day (UTC), inclusive")],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    metric: Annotated[Metric, Query(description=METRIC_DESCRIPTION)] = "effective",
    currency: Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")] = CURRENCY,
    charge_categories: Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")] = None,
) -> TopDriversResponse:
    current_principal(router).require(Permission.READ_COSTS, tenant_id)
    scope = make_scope(tenant_id, from_, to, None, metric, currency, charge_categories)
    return get_top_drivers(get_client(), scope, limit=limit)


app = make_resolver(router)

lambda_handler = api_handler(app)
