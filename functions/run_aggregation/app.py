"""POST /v1/analytics/finops/aggregate: build the cost facts of some days (system, or admin for its tenant)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs.aggregation import run_aggregation
from finops.costs.models import AggregateRequest, AggregateResponse

router = Router()


@router.post(
    "/v1/analytics/finops/aggregate", tags=["aggregation"], summary="Aggregate days into cost facts (idempotent)"
)
def aggregate(principal: Caller, client: ClickHouse, request: AggregateRequest) -> AggregateResponse:
    # Without tenantId the run covers every tenant, which only a system identity may ask for; so is re-pricing.
    principal.require(Permission.AGGREGATE, request.tenant_id)
    if request.reprice:
        principal.require(Permission.REPRICE, request.tenant_id)
    return run_aggregation(client, request)


app = make_resolver(router)

lambda_handler = api_handler(app)
