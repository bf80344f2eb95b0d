"""GET /api/ai-budget/finops/budgets/{budget_id}/status: spend this period, remaining, state and the actions in effect."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, api_handler, make_resolver
from finops.budgets.models import BudgetStatus
from finops.budgets.status import status
from finops.budgets.wiring import BudgetService

router = Router()


@router.get("/api/ai-budget/finops/budgets/<budget_id>/status", tags=["budgets"], summary="A budget's status")
def get_budget_status(principal: Caller, service: BudgetService, budget_id: str) -> BudgetStatus:
    return status(service, principal, budget_id)


app = make_resolver(router)

lambda_handler = api_handler(app)
