"""POST /api/ai-budget/finops/budgets: create a budget with its policy (admin of the tenant)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import current_principal, make_resolver, route_responses
from finops.budgets.models import Budget, BudgetCreate
from finops.budgets.wiring import budgets
from finops.observability import instrumented

router = Router()


@router.post(
    "/api/ai-budget/finops/budgets",
    tags=["budgets"],
    summary="Create a budget",
    responses=route_responses(409, success=201, description="Created"),
)
def create_budget(request: BudgetCreate) -> tuple[Budget, int]:
    return budgets().create(current_principal(router), request), 201


app = make_resolver(router)


@instrumented()
def lambda_handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
