"""POST /api/ai-budget/finops/budgets: create a budget with its policy (admin of the tenant)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import ETAG_HEADER, LOCATION_HEADER, Caller, api_handler, make_resolver, model_response, route_responses
from finops.budgets import crud
from finops.budgets.models import Budget, BudgetCreate
from finops.budgets.wiring import BudgetService

router = Router()


@router.post(
    "/api/ai-budget/finops/budgets",
    tags=["budgets"],
    summary="Create a budget",
    responses=route_responses(409, success=201, description="Created", headers={**ETAG_HEADER, **LOCATION_HEADER}),
)
def create_budget(principal: Caller, service: BudgetService, request: BudgetCreate) -> Budget:
    budget = crud.create(service, principal, request)
    headers = {"Location": budget.location(), "ETag": budget.etag}
    return model_response(budget, status=201, headers=headers)  # type: ignore[return-value]


app = make_resolver(router)

lambda_handler = api_handler(app)
