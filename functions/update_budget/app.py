"""PATCH /api/ai-budget/finops/budgets/{budget_id}: partial update with optimistic concurrency (If-Match or `version`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header

from finops.api import ETAG_HEADER, Caller, api_handler, make_resolver, model_response, route_responses
from finops.budgets import crud
from finops.budgets.models import Budget, BudgetUpdate
from finops.budgets.wiring import BudgetService

router = Router()


@router.patch(
    "/api/ai-budget/finops/budgets/<budget_id>",
    tags=["budgets"],
    summary="Update a budget (412 on a stale version)",
    responses=route_responses(409, 412, 428, headers=ETAG_HEADER),
)
def update_budget(
    principal: Caller,
    service: BudgetService,
    budget_id: str,
    update: BudgetUpdate,
    if_match: Annotated[
        str | None, Header(alias="if-match", description='The ETag of a GET, the version quoted: "3"')
    ] = None,
) -> Budget:
    budget = crud.update(service, principal, budget_id, update, if_match=if_match)
    return model_response(budget, headers={"ETag": budget.etag})  # type: ignore[return-value]


app = make_resolver(router)

lambda_handler = api_handler(app)
