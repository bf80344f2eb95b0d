"""Request and response models of the budget endpoints."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import AfterValidator, Field, model_validator

from finops.models.common import (
    CURRENCY,
    ApiDate,
    Category,
    CurrencyCode,
    Label,
    Money,
    Reply,
    RequestBody,
    TenantId,
    UsdMicros,
)

Period = Literal["daily", "monthly", "quarterly", "annual"]
Action = Literal["notify", "alert_admins", "rate_limit", "block_ai", "block_export"]
State = Literal["ok", "notified", "enforced"]
# What a caller is about to spend on; each maps to the cost category it will show up in.
OperationType = Literal["ai_generation", "ai_embedding", "export", "compute", "storage", "egress"]
OPERATION_CATEGORY: dict[str, Category] = {
    "ai_generation": Category.AI,
    "ai_embedding": Category.AI,
    "export": Category.EXPORT,
    "compute": Category.COMPUTE,
    "storage": Category.STORAGE,
    "egress": Category.EGRESS,
}
ENFORCEMENT_ACTIONS = frozenset({"rate_limit", "block_ai", "block_export"})

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value.lower()


Email = Annotated[str, AfterValidator(_email)]
Threshold = Annotated[Decimal, Field(ge=1, le=1000, decimal_places=2, description="Percent of the amount, 1 to 1000")]
# At least a cent: a smaller budget is no budget, and its percentages would be meaningless.
MIN_BUDGET_USD = Decimal("0.01")
Amount = Annotated[
    UsdMicros,
    Field(ge=MIN_BUDGET_USD, description="In the budget's currency, 0.01 to 10^12, at most 6 decimal places"),
]
# What one operation is expected to cost; far above any single call, far below what a budget may hold.
MAX_ESTIMATE_USD = Decimal(10**9)
Estimate = Annotated[UsdMicros, Field(le=MAX_ESTIMATE_USD, description="USD, 0 to 10^9, at most 6 decimal places")]
Name = Annotated[Label, Field(max_length=200, description="1 to 200 characters")]
FilterValues = Annotated[list[Label], Field(max_length=50)]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _default_actions() -> list[Action]:
    return ["notify"]


class BudgetPolicy(RequestBody):
    notify_threshold: Threshold
    enforce_threshold: Threshold | None = None
    actions: Annotated[list[Action], AfterValidator(_unique)] = Field(default_factory=_default_actions)
    notify_emails: Annotated[list[Email], AfterValidator(_unique)] = Field(default_factory=list, max_length=10)
    admin_emails: Annotated[list[Email], AfterValidator(_unique)] = Field(default_factory=list, max_length=10)
    rate_limit_factor: Decimal | None = Field(
        None,
        gt=0,
        le=1,
        decimal_places=3,
        description="Share of the normal request rate allowed while rate limited (0 to 1)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> BudgetPolicy:
        if "rate_limit" in self.actions and self.rate_limit_factor is None:
            raise ValueError("rateLimitFactor is required when actions include rate_limit")
        if self.enforce_threshold is not None and self.enforce_threshold < self.notify_threshold:
            raise ValueError("enforceThreshold must be greater than or equal to notifyThreshold")
        if ENFORCEMENT_ACTIONS & set(self.actions) and self.enforce_threshold is None:
            raise ValueError("enforceThreshold is required for rate_limit, block_ai and block_export")
        return self


class BudgetCreate(RequestBody):
    tenant_id: TenantId
    name: Name
    amount: Amount
    currency: CurrencyCode = Field(
        CURRENCY,
        description="The budget's currency, set at creation (default USD): its amount, spend and alerts are in it; "
        "another one needs exchange rates from startDate on",
    )
    period: Period
    categories: Annotated[list[Category], AfterValidator(_unique)] = Field(
        default_factory=list, description="Empty: all categories"
    )
    policy: BudgetPolicy
    start_date: ApiDate
    models: FilterValues = Field(default_factory=list, description="Only these models (empty: all)")
    regions: FilterValues = Field(default_factory=list, description="Only these regions (empty: all)")
    services: FilterValues = Field(default_factory=list, description="Only these services (empty: all)")


class BudgetUpdate(RequestBody):
    """A partial update; `version` (or the If-Match header) must be the budget's current version."""

    name: Name | None = None
    amount: Amount | None = None
    period: Period | None = None
    categories: Annotated[list[Category], AfterValidator(_unique)] | None = None
    policy: BudgetPolicy | None = None
    start_date: ApiDate | None = None
    models: FilterValues | None = None
    regions: FilterValues | None = None
    services: FilterValues | None = None
    version: int | None = Field(None, ge=1, le=2**31 - 1)  # a PostgreSQL integer


class Budget(Reply):
    id: str
    tenant_id: str
    name: str
    amount: Money
    currency: str = CURRENCY
    period: Period
    categories: list[Category]
    models: list[str]
    regions: list[str]
    services: list[str]
    policy: BudgetPolicy
    start_date: date
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def etag(self) -> str:
        """The budget's entity tag: its version, quoted (RFC 9110); `If-Match` takes it back."""
        return f'"{self.version}"'

    def location(self) -> str:
        return f"/api/ai-budget/finops/budgets/{self.id}"


class BudgetList(Reply):
    budgets: list[Budget]


class BudgetStatus(Reply):
    budget_id: str
    tenant_id: str
    name: str
    currency: str = CURRENCY
    amount: Money
    spent: Money
    remaining: Money = Field(description="Amount minus spent, never below 0")
    percent_used: float
    state: State
    active_actions: list[Action]
    period_start: date
    period_end: date
    spend_as_of: datetime = Field(description="When the spend figure was read")
    forecasted_spend: Money | None = Field(
        None,
        description="Expected spend at the period's end (daily check; null if not forecast)",
    )
    forecast_exceed_probability: float | None = Field(
        None, description="Probability that the period's spend exceeds the amount"
    )
    forecast_breach_date: date | None = Field(
        None, description="Expected day the amount is exceeded, if it is expected to be"
    )
    forecast_as_of: datetime | None = None


class BudgetStatusList(Reply):
    statuses: list[BudgetStatus]


class BudgetEvent(Reply):
    id: str
    budget_id: str
    event_type: str
    severity: str
    period_start: date | None = None
    threshold_percent: float | None = None
    spent: Money | None = None
    amount: Money | None = None
    percent_used: float | None = None
    actor: str
    source: str
    details: dict[str, Any]
    created_at: datetime


class BudgetEventPage(Reply):
    events: list[BudgetEvent]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page")


# Sent by a caller that may retry a check: the retry answers the first decision and reserves nothing more.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried check answer the first decision and reserve nothing more (kept 24 hours)",
    ),
]


class EnforcementCheck(RequestBody):
    operation_type: OperationType
    estimated_cost_usd: Estimate = Decimal(0)


class EnforcementDecision(Reply):
    allowed: bool
    action: Literal["allow", "rate_limit", "block"]
    rate_limit_factor: float | None = None
    reason: str
    budget_id: str | None = None
    percent_used: float | None = None
    degraded: bool = Field(
        False, description="A database was unavailable: the answer follows ENFORCEMENT_FAIL_MODE, not the budgets"
    )
