"""POST /v1/analytics/finops/imports/focus: import a FOCUS CSV file (plain or gzip) of cloud cost: for one tenant
(its admin, or system) or for the tenants a column or tag names (system)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from finops.api import CSV, Caller, ClickHouse, api_handler, make_resolver, route_responses
from finops.focus.models import ColumnName, ImportResult
from finops.focus.service import import_http_body, import_target
from finops.models.common import TenantId

router = Router()


@router.post(
    "/v1/analytics/finops/imports/focus",
    tags=["imports"],
    summary="Import FOCUS cost data (idempotent: a re-import replaces)",
    responses=route_responses(),
    # The file is the body: the handler streams it (Powertools parses JSON bodies only).
    openapi_extensions={
        "requestBody": {
            "required": True,
            "description": "A FOCUS 1.0 CSV file with its header row; Content-Encoding: gzip for a gzip file",
            "content": {CSV: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def import_focus(
    principal: Caller,
    client: ClickHouse,
    tenant_id: Annotated[TenantId | None, Query(alias="tenantId", description="Every row is this tenant's")] = None,
    tenant_column: Annotated[
        ColumnName | None,
        Query(
            alias="tenantColumn",
            description="Without tenantId: the column naming each row's tenant (default SubAccountId; system only)",
        ),
    ] = None,
    tenant_tag: Annotated[
        ColumnName | None,
        Query(alias="tenantTag", description="Without tenantId: the Tags key naming each row's tenant (system only)"),
    ] = None,
) -> ImportResult:
    event = router.current_event
    return import_http_body(
        client,
        principal,
        import_target(tenant_id, tenant_column, tenant_tag),
        event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
    )


app = make_resolver(router, body_media_type=CSV)

lambda_handler = api_handler(app)
