"""EventBridge schedule, 02:00 UTC: refresh every budget's spend, roll periods, fire due events, publish."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from finops.budgets.job import daily_check
from finops.budgets.wiring import budgets
from finops.observability import add_count, instrumented, logger


@instrumented(api=False)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: Any) -> dict[str, Any]:
    report = daily_check(budgets(cached_spend=False), today=event.time.date())
    add_count("BudgetsChecked", report.budgets)
    add_count("BudgetEventsFired", report.events)
    add_count("BudgetChecksFailed", len(report.failed))
    logger.info(
        "daily budget check done", extra={"budgets": report.budgets, "events": report.events, "failed": report.failed}
    )
    return {"budgets": report.budgets, "events": report.events, "failed": report.failed}
