"""GET /api/ai-budget/finops/budgets/tenant/{tenant_id}: a tenant's live budgets (all with includeDeleted=true)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from finops.api import Caller, api_handler, make_resolver
from finops.budgets import crud
from finops.budgets.models import BudgetList
from finops.budgets.wiring import BudgetService
from finops.models.common import TenantId

router = Router()


@router.get("/api/ai-budget/finops/budgets/tenant/<tenant_id>", tags=["budgets"], summary="List a tenant's budgets")
def list_tenant_budgets(
    principal: Caller,
    service: BudgetService,
    tenant_id: Annotated[TenantId, Path()],
    include_deleted: Annotated[bool, Query(alias="includeDeleted")] = False,
) -> BudgetList:
    return crud.list_for_tenant(service, principal, tenant_id, include_deleted=include_deleted)


app = make_resolver(router)

lambda_handler = api_handler(app)
