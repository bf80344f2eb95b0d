"""GET /api/ai-budget/finops/budgets/{budget_id}: one budget, deleted ones included (user of the tenant), with its
version as the ETag that a PATCH's If-Match takes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import ETAG_HEADER, Caller, api_handler, make_resolver, model_response, route_responses
from finops.budgets import crud
from finops.budgets.models import Budget
from finops.budgets.wiring import BudgetService

router = Router()


@router.get(
    "/api/ai-budget/finops/budgets/<budget_id>",
    tags=["budgets"],
    summary="Get a budget (ETag: its version)",
    responses=route_responses(headers=ETAG_HEADER),
)
def get_budget(principal: Caller, service: BudgetService, budget_id: str) -> Budget:
    budget = crud.get(service, principal, budget_id)
    return model_response(budget, headers={"ETag": budget.etag})  # type: ignore[return-value]


app = make_resolver(router)

lambda_handler = api_handler(app)
