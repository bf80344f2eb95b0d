"""POST /v1/analytics/finops/anomalies/{anomaly_id}/acknowledge: record who reviewed an anomaly, and when (admin)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.anomalies.service import AcknowledgeRequest, AnomalyOut, acknowledge
from finops.api import api_handler, current_principal, make_resolver
from finops.db.clickhouse import get_client

router = Router()


@router.post(
    "/v1/analytics/finops/anomalies/<anomaly_id>/acknowledge", tags=["anomalies"], summary="Acknowledge an anomaly"
)
def acknowledge_anomaly(anomaly_id: str, request: AcknowledgeRequest) -> AnomalyOut:
    return acknowledge(get_client(), current_principal(router), anomaly_id, note=request.note)


app = make_resolver(router)

lambda_handler = api_handler(app)
