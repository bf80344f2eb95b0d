"""GET /v1/analytics/finops/costs/summary: total, previous period, categories, top drivers, month to date."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import api_handler, current_principal, make_resolver
from finops.auth import Permission
from finops.costs.explorer import get_summary
from finops.costs.models import SummaryResponse
from finops.costs.queries import METRIC_DESCRIPTION, ChargeCategoryList, Metric, make_scope
from finops.db.clickhouse import get_client
from finops.models.common import CURRENCY, ApiDate, CurrencyCode, TenantId

router = Router()


@router.get("/v1/analytics/finops/costs/summary", tags=["costs"], summary="Cost summary of a period")
def summary(
    tenant_id: Annotated[TenantId, Query(alias="tenantId")],
    from_: Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")],
    to: Annotated[ApiDate, Query(description="Last day (UTC), inclusive")],
    metric: Annotated[Metric, Query(description=METRIC_DESCRIPTION)] = "effective",
    currency: Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")] = CURRENCY,
    charge_categories: Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")] = None,
) -> SummaryResponse:
    current_principal(router).require(Permission.READ_COSTS, tenant_id)
    return get_summary(get_client(), make_scope(tenant_id, from_, to, None, metric, currency, charge_categories))


app = make_resolver(router)

lambda_handler = api_handler(app)
