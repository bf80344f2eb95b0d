"""Types shared by every domain: cost categories, money, tenant ids."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

CURRENCY = "USD"


class Category(StrEnum):
    AI = "AI"
    COMPUTE = "COMPUTE"
    STORAGE = "STORAGE"
    EXPORT = "EXPORT"
    EGRESS = "EGRESS"


TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
TenantId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=TENANT_ID_PATTERN, description="Tenant identifier"),
]


def _money_to_json(value: Decimal) -> float:
    # Micro-dollar precision in replies; sums are computed on exact decimals before this rounding.
    return float(value.quantize(Decimal("0.000001")))


Money = Annotated[Decimal, PlainSerializer(_money_to_json, return_type=float, when_used="json")]


class RequestBody(BaseModel):
    """Base of every request body: it accepts exactly the documented (camelCase) names. A field's Python name
    (`tenant_id` for `tenantId`) is an unknown key like any other, rejected with a 422 naming it, so what is
    authorized is always what is parsed and stored."""

    model_config = ConfigDict(extra="forbid", validate_by_name=False, validate_by_alias=True, str_strip_whitespace=True)


class Reply(BaseModel):
    """Base of every reply: built in code by field name, written out by alias (camelCase)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)
