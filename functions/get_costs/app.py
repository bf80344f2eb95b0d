"""GET /v1/analytics/finops/costs: a tenant's costs over time, optionally grouped, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import current_principal, make_resolver, route_responses
from finops.auth import Permission
from finops.costs.explorer import CSV_MEDIA_TYPE, costs_as_csv, csv_attachment, get_costs
from finops.costs.models import CostsResponse
from finops.costs.queries import CategoryList, Dimension, Granularity, make_scope
from finops.db.clickhouse import get_client
from finops.models.common import ApiDate, TenantId
from finops.observability import instrumented
from finops.settings import get_settings

router = Router()


@router.get(
    "/v1/analytics/finops/costs",
    tags=["costs"],
    summary="Costs over time, optionally grouped",
    responses=route_responses(
        content={
            "application/json": {"model": CostsResponse},
            "text/csv": {"schema": {"type": "string", "description": "RFC 4180, with a header row (format=csv)"}},
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
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> CostsResponse | str:
    current_principal(router).require(Permission.READ_COSTS, tenant_id)
    scope = make_scope(tenant_id, from_, to, max_days=get_settings().max_query_days, categories=categories)
    reply = get_costs(get_client(), scope, granularity=granularity, group_by=group_by)
    if format_ == "csv":
        attachment = {"Content-Disposition": csv_attachment(reply)}
        return Response(200, CSV_MEDIA_TYPE, costs_as_csv(reply), attachment)  # type: ignore[return-value]
    return reply


app = make_resolver(router)


@instrumented()
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
