"""EventBridge schedule, 01:00 UTC: aggregate yesterday and every day that received late telemetry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from finops.costs.job import run_daily_aggregation
from finops.db.clickhouse import get_client
from finops.observability import instrumented, logger


@instrumented(api=False)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: Any) -> dict[str, Any]:
    # The schedule's own day, not the clock's: a delayed or replayed invocation aggregates the same days.
    result = run_daily_aggregation(get_client(), today=event.time.date())
    logger.info("daily aggregation done", extra={"days": [d.date_.isoformat() for d in result.days]})
    return result.model_dump(mode="json", by_alias=True)
