"""The route the three breakdown functions share (costs by model, by region, by service): one implementation, which
each function declares on its own router with its dimension."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse
from finops.auth import Permission
from finops.costs import params
from finops.costs.explorer import get_breakdown
from finops.costs.models import BreakdownResponse
from finops.models.common import CURRENCY

BreakdownDimension = Literal["model", "region", "service"]


def breakdown_route(router: Router, dimension: BreakdownDimension) -> None:
    """Declare `GET /v1/analytics/finops/costs/by-<dimension>` on `router`: a tenant's costs by that dimension,
    each value with its share of the total."""

    def costs_by(
        principal: Caller,
        client: ClickHouse,
        tenant_id: params.Tenant,
        from_: params.From,
        to: params.To,
        categories: params.Categories = None,
        metric: params.Metric = "effective",
        currency: params.Currency = CURRENCY,
        charge_categories: params.ChargeCategories = None,
    ) -> BreakdownResponse:
        principal.require(Permission.READ_COSTS, tenant_id)
        scope = params.make_scope(tenant_id, from_, to, categories, metric, currency, charge_categories)
        return get_breakdown(client, scope, dimension)

    # The name makes the OpenAPI operationId (costs_by_model_v1_analytics_finops_costs_by_model_get).
    costs_by.__name__ = costs_by.__qualname__ = f"costs_by_{dimension}"
    summary = f"Costs by {dimension}"
    router.get(f"/v1/analytics/finops/costs/by-{dimension}", tags=["costs"], summary=summary)(costs_by)
