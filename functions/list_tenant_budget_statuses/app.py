"""GET /api/ai-budget/finops/budgets/tenant/{tenant_id}/status: the status of each live budget of a tenant."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from finops.api import Caller, api_handler, make_resolver
from finops.budgets.models import BudgetStatusList
from finops.budgets.status import tenant_statuses
from finops.budgets.wiring import BudgetService
from finops.models.common import TenantId

router = Router()


@router.get(
    "/api/ai-budget/finops/budgets/tenant/<tenant_id>/status",
    tags=["budgets"],
    summary="Statuses of a tenant's budgets",
)
def list_tenant_budget_statuses(
    principal: Caller, service: BudgetService, tenant_id: Annotated[TenantId, Path()]
) -> BudgetStatusList:
    return tenant_statuses(service, principal, tenant_id)


app = make_resolver(router)

lambda_handler = api_handler(app)
