"""GET /v1/analytics/finops/anomalies: a tenant's cost anomalies with severity, direction and root cause."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.anomalies.detection import AnomalyMethod
from finops.anomalies.models import AnomaliesResponse
from finops.anomalies.review import list_anomalies
from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.auth import Permission
from finops.costs import params
from finops.models.common import Category

router = Router()


@router.get("/v1/analytics/finops/anomalies", tags=["anomalies"], summary="Cost anomalies of a period")
def anomalies(
    principal: Caller,
    client: ClickHouse,
    tenant_id: params.Tenant,
    from_: params.From,
    to: params.To,
    severity: Annotated[Literal["low", "medium", "high"] | None, Query()] = None,
    category: Annotated[Category | None, Query()] = None,
    method: Annotated[AnomalyMethod, Query()] = "auto",
    direction: Annotated[Literal["up", "down"] | None, Query()] = None,
) -> AnomaliesResponse:
    principal.require(Permission.READ_COSTS, tenant_id)
    scope = params.make_scope(tenant_id, from_, to)
    return list_anomalies(
        client,
        tenant_id,
        scope.start,
        scope.end,
        method,
        severity=severity,
        category=category,
        direction=direction,
    )


app = make_resolver(router)

lambda_handler = api_handler(app)
