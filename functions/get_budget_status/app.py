"""GET /api/ai-budget/finops/budgets/{budget_id}/status: spend this period, remaining, state and the actions in effect."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import api_handler, current_principal, make_resolver
from finops.budgets.models import BudgetStatus
from finops.budgets.wiring import budgets

router = Router()


@router.get("/api/ai-budget/finops/budgets/<budget_id>/status", tags=["budgets"], summary="A budget's status")
def get_budget_status(budget_id: str) -> BudgetStatus:
    return budgets().status(current_principal(router), budget_id)


app = make_resolver(router)

lambda_handler = api_handler(app)
