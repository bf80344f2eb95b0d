"""POST /api/ai-budget/finops/budgets/{budget_id}/check-enforcement: may this operation spend against this budget?"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from finops.api import Caller, api_handler, make_resolver
from finops.budgets.enforcement import check_budget
from finops.budgets.models import EnforcementCheck, EnforcementDecision, IdempotencyKey
from finops.budgets.wiring import BudgetService

router = Router()


@router.post(
    "/api/ai-budget/finops/budgets/<budget_id>/check-enforcement", tags=["enforcement"], summary="Check one budget"
)
def check_budget_enforcement(
    principal: Caller,
    service: BudgetService,
    budget_id: str,
    check: EnforcementCheck,
    idempotency_key: IdempotencyKey = None,
) -> EnforcementDecision:
    return check_budget(service, principal, budget_id, check, idempotency_key=idempotency_key)


app = make_resolver(router)

lambda_handler = api_handler(app)
