"""Types shared by every domain: cost categories, money, tenant ids."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field, PlainSerializer

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
