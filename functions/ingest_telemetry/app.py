"""POST /v1/analytics/finops/telemetry: ingest a batch of usage events (system, or admin for its own tenant)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, ClickHouse, api_handler, make_resolver
from finops.budgets.realtime import evaluate_after_ingest
from finops.costs.ingest import ingest
from finops.costs.models import IngestResult, TelemetryBatch
from finops.costs.rate_card import current_rate_card
from finops.observability import add_count

router = Router()


@router.post(
    "/v1/analytics/finops/telemetry", tags=["telemetry"], summary="Ingest usage events (idempotent by eventId)"
)
def ingest_telemetry(principal: Caller, client: ClickHouse, batch: TelemetryBatch) -> IngestResult:
    result = ingest(client, current_rate_card(client), batch.events, principal=principal)
    add_count("EventsAccepted", result.accepted)
    add_count("EventsDuplicate", result.duplicates)
    add_count("EventsRejected", len(result.rejected))
    evaluate_after_ingest(result.tenants)
    return result


app = make_resolver(router)

lambda_handler = api_handler(app)
