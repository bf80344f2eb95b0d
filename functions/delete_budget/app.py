"""DELETE /api/ai-budget/finops/budgets/{budget_id}: soft delete (kept for the audit trail); ?hard=true removes it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, api_handler, make_resolver, route_responses
from finops.budgets import crud
from finops.budgets.wiring import BudgetService

router = Router()


@router.delete(
    "/api/ai-budget/finops/budgets/<budget_id>",
    tags=["budgets"],
    summary="Delete a budget",
    responses=route_responses(success=204, description="Deleted", content={}),
)
def delete_budget(
    principal: Caller, service: BudgetService, budget_id: str, hard: Annotated[bool, Query()] = False
) -> Response[None]:
    crud.delete(service, principal, budget_id, hard=hard)
    return Response(status_code=204)


app = make_resolver(router)

lambda_handler = api_handler(app)
