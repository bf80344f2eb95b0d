"""POST /api/ai-budget/finops/tenants/{tenant_id}/check-enforcement: the strictest answer of every budget covering the operation."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from finops.api import Caller, api_handler, make_resolver
from finops.budgets.enforcement import check_tenant
from finops.budgets.models import EnforcementCheck, EnforcementDecision, IdempotencyKey
from finops.budgets.wiring import BudgetService
from finops.models.common import TenantId

router = Router()


@router.post(
    "/api/ai-budget/finops/tenants/<tenant_id>/check-enforcement",
    tags=["enforcement"],
    summary="Check all of a tenant's budgets",
)
def check_tenant_enforcement(
    principal: Caller,
    service: BudgetService,
    tenant_id: Annotated[TenantId, Path()],
    check: EnforcementCheck,
    idempotency_key: IdempotencyKey = None,
) -> EnforcementDecision:
    return check_tenant(service, principal, tenant_id, check, idempotency_key=idempotency_key)


app = make_resolver(router)

lambda_handler = api_handler(app)
