"""GET /v1/analytics/finops/costs: a tenant's costs over time, optionally grouped, as JSON or CSV; or as FOCUS."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, ClickHouse, api_handler, make_resolver, route_responses
from finops.auth import Permission
from finops.costs import params
from finops.costs.explorer import CSV_MEDIA_TYPE, costs_as_csv, csv_attachment, get_costs
from finops.costs.models import CostsResponse
from finops.costs.queries import Dimension, Granularity
from finops.focus.service import export_focus_file
from finops.models.common import CURRENCY

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
    principal: Caller,
    client: ClickHouse,
    tenant_id: params.Tenant,
    from_: params.From,
    to: params.To,
    group_by: Annotated[Dimension | None, Query(alias="groupBy")] = None,
    granularity: Annotated[Granularity, Query()] = "daily",
    categories: params.Categories = None,
    format_: Annotated[
        Literal["json", "csv", "focus"],
        Query(alias="format", description="json, csv (these rows), or focus (a FOCUS 1.0 file of the range's cost)"),
    ] = "json",
    metric: params.Metric = "effective",
    currency: params.Currency = CURRENCY,
    charge_categories: params.ChargeCategories = None,
) -> CostsResponse | str:
    principal.require(Permission.READ_COSTS, tenant_id)
    scope = params.make_scope(tenant_id, from_, to, categories, metric, currency, charge_categories)
    if format_ == "focus":
        focus_csv, attachment = export_focus_file(client, scope, group_by=group_by, granularity=granularity)
        return Response(200, CSV_MEDIA_TYPE, focus_csv, {"Content-Disposition": attachment})  # type: ignore[return-value]
    reply = get_costs(client, scope, granularity=granularity, group_by=group_by)
    if format_ == "csv":
        headers = {"Content-Disposition": csv_attachment(reply)}
        return Response(200, CSV_MEDIA_TYPE, costs_as_csv(reply), headers)  # type: ignore[return-value]
    return reply


app = make_resolver(router)

lambda_handler = api_handler(app)
