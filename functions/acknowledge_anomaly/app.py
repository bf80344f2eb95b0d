"""POST /v1/analytics/finops/anomalies/{anomaly_id}/acknowledge: record who reviewed an anomaly, and when (admin)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.anomalies.models import AcknowledgeRequest, AnomalyOut
from finops.anomalies.review import acknowledge
from finops.api import Caller, ClickHouse, api_handler, make_resolver

router = Router()


@router.post(
    "/v1/analytics/finops/anomalies/<anomaly_id>/acknowledge", tags=["anomalies"], summary="Acknowledge an anomaly"
)
def acknowledge_anomaly(
    principal: Caller, client: ClickHouse, anomaly_id: str, request: AcknowledgeRequest
) -> AnomalyOut:
    return acknowledge(client, principal, anomaly_id, note=request.note)


app = make_resolver(router)

lambda_handler = api_handler(app)
