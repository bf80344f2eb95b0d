"""POST /v1/analytics/finops/anomalies/{anomaly_id}/acknowledge: record who reviewed an anomaly, and when."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.anomalies.service import NOT_FOUND, AcknowledgeRequest, AnomalyOut, acknowledge, find
from finops.api import current_principal, make_resolver
from finops.auth import Permission
from finops.db.clickhouse import get_client
from finops.errors import NotFound
from finops.observability import instrumented

router = Router()


@router.post(
    "/v1/analytics/finops/anomalies/<anomaly_id>/acknowledge", tags=["anomalies"], summary="Acknowledge an anomaly"
)
def acknowledge_anomaly(anomaly_id: str, request: AcknowledgeRequest) -> AnomalyOut:
    principal = current_principal(router)
    client = get_client()
    anomaly = find(client, anomaly_id)
    # Anyone who may read the tenant's costs may mark its anomalies reviewed; others learn nothing of the id.
    if anomaly is None or not principal.can(Permission.READ_COSTS, anomaly.tenant_id):
        raise NotFound(NOT_FOUND)
    return acknowledge(client, anomaly, by=principal.subject, note=request.note)


app = make_resolver(router)


@instrumented()
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
