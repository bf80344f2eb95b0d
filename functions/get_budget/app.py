"""GET /api/ai-budget/finops/budgets/{budget_id}: one budget, deleted ones included (user of the tenant)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import current_principal, make_resolver
from finops.budgets.models import Budget
from finops.budgets.wiring import budgets
from finops.observability import instrumented

router = Router()


@router.get("/api/ai-budget/finops/budgets/<budget_id>", tags=["budgets"], summary="Get a budget")
def get_budget(budget_id: str) -> Budget:
    return budgets().get(current_principal(router), budget_id)


app = make_resolver(router)


@instrumented()
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
