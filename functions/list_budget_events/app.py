"""GET /api/ai-budget/finops/budgets/{budget_id}/events: the audit trail, newest first, paged with a cursor."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import Caller, api_handler, make_resolver
from finops.budgets import crud
from finops.budgets.models import BudgetEventPage
from finops.budgets.wiring import BudgetService

router = Router()


@router.get("/api/ai-budget/finops/budgets/<budget_id>/events", tags=["budgets"], summary="A budget's audit trail")
def list_budget_events(
    principal: Caller,
    service: BudgetService,
    budget_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="nextCursor of the previous page")] = None,
) -> BudgetEventPage:
    return crud.events(service, principal, budget_id, limit=limit, cursor=cursor)


app = make_resolver(router)

lambda_handler = api_handler(app)
