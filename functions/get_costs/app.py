"""GET /v1/analytics/finops/costs: a tenant's costs over time, optionally grouped, as JSON or CSV; or as FOCUS."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import api_handler, current_principal, make_resolver, route_responses
from finops.auth import Permission
from finops.costs.explorer import CSV_MEDIA_TYPE, costs_as_csv, csv_attachment, get_costs
from finops.costs.models import CostsResponse
from finops.costs.queries import (
    METRIC_DESCRIPTION,
    CategoryList,
    ChargeCategoryList,
    Dimension,
    Granularity,
    Metric,
    make_scope,
)
from finops.db.clickhouse import get_client
from finops.focus.service import export_focus_file
from finops.models.common import CURRENCY, ApiDate, CurrencyCode, TenantId

router = Router()


@router.get(
    "/v1/analytics/finops/costs",
    tags=["costs"],
    summary="Costs over time, optionally grouped",
    responses=route_responses(
        content={
            "application/json": {"model": CostsResponse},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "RFC 4180, with a header row: the rows (format=csv), or FOCUS 1.0 (format=focus)",
                }
            },
        }
    ),
)
def costs(
    tenant_id: Annotated[TenantId, Query(alias="tenantId")],
    from_: Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")],
    to: Annotated[ApiDate, Query(description="Last day (UTC), inclusive")],
    group_by: Annotated[Dimension | None, Query(alias="groupBy")] = None,
    granularity: Annotated[Granularity, Query()] = "daily",
    categories: Annotated[CategoryList | None, Query()] = None,
    format_: Annotated[
        Literal["json", "csv", "focus"],
        Query(alias="format", description="json, csv (these rows), or focus (a FOCUS 1.0 file of the range's cost)"),
    ] = "json",
    metric: Annotated[Metric, Query(description=METRIC_DESCRIPTION)] = "effective",
    currency: Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")] = CURRENCY,
    charge_categories: Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")] = None,
) -> CostsResponse | str:
    current_principal(router).require(Permission.READ_COSTS, tenant_id)
    scope = make_scope(tenant_id, from_, to, categories, metric, currency, charge_categories)
    if format_ == "focus":
        focus_csv, attachment = export_focus_file(get_client(), scope, group_by=group_by, granularity=granularity)
        return Response(200, CSV_MEDIA_TYPE, focus_csv, {"Content-Disposition": attachment})  # type: ignore[return-value]
    reply = get_costs(get_client(), scope, granularity=granularity, group_by=group_by)
    if format_ == "csv":
        attachment = {"Content-Disposition": csv_attachment(reply)}
        return Response(200, CSV_MEDIA_TYPE, costs_as_csv(reply), attachment)  # type: ignore[return-value]
    return reply


app = make_resolver(router)

lambda_handler = api_handler(app)
