"""The query parameters of the cost endpoints, each declared once (wire name, type, rule, description), and their
validation into the scope a query reads (finops.costs.queries.CostScope): 422 naming the parameter that breaks a rule.

A handler lists the parameters it takes, each typed by one of these (`tenant_id: params.Tenant`): Powertools validates
and documents only the handler's own parameters (a Depends() function's query parameters are neither validated nor
passed to it, and a pydantic model as one Query() loses each field's schema in the OpenAPI document).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import Field

from finops.costs import queries
from finops.costs.queries import CostScope
from finops.errors import InvalidRequest
from finops.models.common import CHARGE_CATEGORIES, CURRENCY, ApiDate, Category, CurrencyCode, TenantId
from finops.settings import get_settings

METRIC_DESCRIPTION = (
    "effective (default): EffectiveCost, amortized, as FOCUS recommends for analysis; billed: BilledCost, as invoiced "
    "(for rated telemetry the two are the same)"
)
# The `categories` query parameter: each of the six names at most once fits in 100 characters.
CategoryList = Annotated[
    str, Field(max_length=100, description="Comma list of AI, COMPUTE, STORAGE, EXPORT, EGRESS, OTHER")
]
ChargeCategoryList = Annotated[
    str,
    Field(
        max_length=100, description="Comma list of FOCUS charge categories: Usage, Purchase, Tax, Credit, Adjustment"
    ),
]

Tenant = Annotated[TenantId, Query(alias="tenantId")]
From = Annotated[ApiDate, Query(alias="from", description="First day (UTC), inclusive")]
To = Annotated[ApiDate, Query(description="Last day (UTC), inclusive")]
Categories = Annotated[CategoryList | None, Query()]
Metric = Annotated[queries.Metric, Query(description=METRIC_DESCRIPTION)]
Currency = Annotated[CurrencyCode, Query(description="The reply's currency (ISO 4217), default USD")]
ChargeCategories = Annotated[ChargeCategoryList | None, Query(alias="chargeCategories")]


def make_scope(
    tenant_id: str,
    start: date,
    end: date,
    categories: str | None = None,
    metric: queries.Metric = "effective",
    currency: str = CURRENCY,
    charge_categories: str | None = None,
    *,
    max_days: int | None = None,
) -> CostScope:
    """The scope of a cost request, from its query parameters; 422 naming the one that breaks a rule. The range may
    span at most `max_days` (default MAX_QUERY_DAYS)."""
    max_days = max_days or get_settings().max_query_days
    if start > end:
        raise InvalidRequest("`from` must be on or before `to`", field="from")
    if (end - start).days + 1 > max_days:
        raise InvalidRequest(f"the range from `from` to `to` may span at most {max_days} days", field="to")
    return CostScope(
        tenant_id,
        start,
        end,
        parse_categories(categories),
        metric,
        currency,
        _parse_list(charge_categories, CHARGE_CATEGORIES, field="chargeCategories", normalise=str.title),
    )


def parse_categories(value: str | None) -> tuple[str, ...]:
    return _parse_list(value, tuple(c.value for c in Category), field="categories", normalise=str.upper)


def _parse_list(
    value: str | None, allowed: tuple[str, ...], *, field: str, normalise: Callable[[str], str]
) -> tuple[str, ...]:
    """A comma list of allowed names (case-insensitive), sorted and without repeats; 422 naming the unknown ones."""
    if value is None or not value.strip():
        return ()
    names = [normalise(part.strip()) for part in value.split(",") if part.strip()]
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise InvalidRequest(f"unknown {field} {unknown}; expected a comma list of {sorted(allowed)}", field=field)
    return tuple(sorted(set(names)))
