"""Types shared by every domain: cost categories, tenant ids, and the bounded date, money and count types that
every request model and query parameter uses.

Each bound is chosen so that whatever the code derives from an accepted value still fits the storage:
- ApiDate: 2000-01-01 to 2099-12-31. The furthest the code reaches from a requested day is the previous period
  of a 400-day range, 730 days of forecast history (plus the anomaly baseline's 90 + 28 days) back and a 365-day
  forecast horizon forward, so every derived day stays inside ClickHouse `Date` (1970-01-01 to 2149-06-06),
  PostgreSQL `date` and Python's `date`.
- Usd: 0 to 10^12 with at most 12 decimals, as ClickHouse keeps costs (Decimal(38, 12)); amounts stored in
  PostgreSQL narrow it to 6 decimals (UsdMicros). Sums of spend are not bounded by these: their columns are.
- Counts and quantities per event: see `finops.costs.telemetry`; the limits table in the README lists them all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

CURRENCY = "USD"  # the rate card's currency, the base of the exchange rates and the default of every report
CurrencyCode = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code, three capital letters (USD, EUR, JPY)")
]


class Category(StrEnum):
    AI = "AI"
    COMPUTE = "COMPUTE"
    STORAGE = "STORAGE"
    EXPORT = "EXPORT"
    EGRESS = "EGRESS"
    # Imported cloud cost that is none of the above (databases, management, security...: the FOCUS service
    # category is kept as the subcategory).
    OTHER = "OTHER"


# FOCUS ChargeCategory: what kind of charge a cost is (telemetry is all Usage; imported bills carry all five).
CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
TenantId = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=TENANT_ID_PATTERN, description="Tenant identifier"),
]

# No control characters in ids and names: they end up in text columns (PostgreSQL refuses NUL), CSV cells,
# e-mail subjects and logs.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Label = Annotated[str, Field(min_length=1, max_length=128, pattern=PRINTABLE, description="1 to 128 characters")]

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
ApiDate = Annotated[
    date,
    Field(
        ge=EARLIEST_DATE,
        le=LATEST_DATE,
        description=f"UTC date (YYYY-MM-DD), {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}",
    ),
]


def _as_utc(value: datetime) -> datetime:
    # Stored times are UTC, and a time without an offset is read as UTC: the chDB client hands DateTime64
    # values back without their zone, and a reply must carry one (RFC 3339, as `date-time` requires).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]

MAX_USD = Decimal(10**12)
Usd = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_USD,
        decimal_places=12,
        allow_inf_nan=False,
        description="USD, 0 to 10^12, at most 12 decimal places",
    ),
]
UsdMicros = Annotated[
    Usd, Field(decimal_places=6, description="USD, 0 to 10^12, at most 6 decimal places (micro-dollars)")
]

# Exact arithmetic for any figure the service can hold: the default context's 28 digits would make
# `quantize` raise on a large sum (10^22 at micro-dollar precision) instead of rounding it.
WIDE = Context(prec=60)


def quantize(value: Decimal, quantum: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """`value` rounded to `quantum`, never raising for a figure too long for the default context."""
    return value.quantize(quantum, rounding=rounding, context=WIDE)


MICRO = Decimal("0.000001")


def _money_to_json(value: Decimal) -> float:
    # Micro-dollar precision in replies; sums are computed on exact decimals before this rounding.
    return float(quantize(value, MICRO))


Money = Annotated[Decimal, PlainSerializer(_money_to_json, return_type=float, when_used="json")]


class RequestBody(BaseModel):
    """Base of every request body: it accepts exactly the documented (camelCase) names, surrounding spaces stripped.
    A field's Python name (`tenant_id` for `tenantId`) is an unknown key like any other, rejected with a 422 naming
    it, so what is authorized is always what is parsed and stored. The usage events' typed dictionaries
    (finops.costs.telemetry) take the same config (REQUEST_CONFIG)."""

    # Written out, not `= REQUEST_CONFIG`: pydantic's mypy plugin reads only a literal config (given the variable, it
    # expects the Python names where the code rightly passes the camelCase ones).
    model_config = ConfigDict(
        alias_generator=to_camel,
        extra="forbid",
        validate_by_name=False,
        validate_by_alias=True,
        str_strip_whitespace=True,
    )


REQUEST_CONFIG = RequestBody.model_config


class Reply(BaseModel):
    """Base of every reply: built in code by field name, written out by alias (camelCase)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)
