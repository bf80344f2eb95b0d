"""One row of a FOCUS file: where each column sits (the header), and what a row is read into: the key its amounts are
summed by, the amounts, and the bill slice it belongs to; or the reason it is skipped, naming the column.

Mapping (README, "Importing FOCUS cost data"): ChargePeriodStart's UTC day is the day (hourly rows add up per day;
a row is counted on the day its charge period starts), ServiceCategory maps to our categories (finops.focus.spec)
and is kept as the subcategory, ServiceName is the service, RegionId the region, ProviderName the source
(`focus:<ProviderName>`), BilledCost, EffectiveCost and ListCost are kept in BillingCurrency (negative rows, credits
and refunds, count negative), ChargeCategory is kept (spelling normalised), PricingQuantity and PricingUnit too.
Amounts keep 12 decimals (more are rounded half to even). Nulls are the bare token NULL or an empty field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from finops.currencies.rates import ExchangeRates
from finops.errors import InvalidRequest
from finops.focus import spec
from finops.models.common import EARLIEST_DATE, TENANT_ID_PATTERN, Category

MAX_LABEL_CHARS = 256  # service, region, subcategory and model names, and account ids
MAX_ABS_AMOUNT = Decimal(10**15)  # one row's cost or quantity
AMOUNT_QUANTUM = Decimal("0.000000000001")  # 12 decimals, as stored
DEFAULT_TENANT_COLUMN = "SubAccountId"
NULL_TOKENS = frozenset({"", "NULL"})
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_OUR_CATEGORIES = frozenset(c.value for c in Category)

Amounts = tuple[Decimal, Decimal, Decimal, Decimal]  # billed, effective and list cost, pricing quantity
# A row's key and bill slice are plain tuples in the order of the fields of finops.focus.store's CostKey and BillSlice:
# a named tuple built for each row cost 5% of the import's time; the importer names them once per key.
KeyValues = tuple[str, date, str, str, str, date, str, str, str, str, str, str, str, str]
SliceValues = tuple[str, str, str, str, date]


@dataclass(frozen=True)
class ImportTarget:
    """Whose cost the rows are: every row in `tenant_id`, or each row in the tenant a column (or a tag) names."""

    tenant_id: str | None = None
    tenant_column: str = DEFAULT_TENANT_COLUMN
    tenant_tag: str | None = None

    @property
    def scope(self) -> str:
        return self.tenant_id or ""


class RowError(ValueError):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


class Header:
    """Where each column the import reads sits in the file."""

    def __init__(self, names: list[str], target: ImportTarget) -> None:
        names = [name.strip() for name in names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidRequest(f"the header names columns twice: {duplicates}", field="body", location="body")
        index = {name: i for i, name in enumerate(names)}
        needed = list(spec.REQUIRED_COLUMNS)
        if target.tenant_id is None:
            needed.append("Tags" if target.tenant_tag is not None else target.tenant_column)
        missing = [name for name in needed if name not in index]
        if missing:
            raise InvalidRequest(
                f"not a FOCUS file this import can read: missing columns {missing}", field="body", location="body"
            )
        self.width = len(names)
        self.index = index
        self.get = index.get


@dataclass
class RowParser:
    """Reads the rows of one import: for whom (`target`), with which exchange rates (a row in a currency with no
    rate for its day is skipped), and which days are accepted (the retention of imported cost back from `today`)."""

    target: ImportTarget
    rates: ExchangeRates
    today: date
    retention_days: int
    _days: dict[str, date] = field(default_factory=dict)
    _rated: set[tuple[str, date]] = field(default_factory=set)

    @property
    def oldest_day(self) -> date:
        return max(EARLIEST_DATE, self.today - timedelta(days=self.retention_days))

    def parse(self, values: list[str], header: Header) -> tuple[KeyValues, Amounts, SliceValues]:
        """The row's key, amounts and bill slice; RowError naming the column at fault when it cannot be used."""
        if len(values) != header.width:
            raise RowError(None, f"has {len(values)} fields where the header has {header.width}")

        def text(column: str, *, required: bool = True) -> str:
            position = header.get(column)
            value = values[position].strip() if position is not None else ""
            if value in NULL_TOKENS:
                if required:
                    raise RowError(column, "must not be null")
                return ""
            if len(value) > MAX_LABEL_CHARS and column != "Tags":
                raise RowError(column, f"longer than {MAX_LABEL_CHARS} characters")
            return value

        day = self._day(text("ChargePeriodStart"), "ChargePeriodStart")
        if day < self.oldest_day:
            raise RowError(
                "ChargePeriodStart",
                f"before {self.oldest_day.isoformat()}: older than the retention of imported cost "
                f"({self.retention_days} days) or than 2000-01-01",
            )
        if day > self.today + timedelta(days=1):
            raise RowError("ChargePeriodStart", "in the future")
        currency = text("BillingCurrency").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise RowError("BillingCurrency", "must be an ISO 4217 code of three letters")
        if (currency, day) not in self._rated:
            if not self.rates.has_rate(currency, day):
                raise RowError(
                    "BillingCurrency",
                    f"no exchange rate for {currency} on {day.isoformat()}: publish one "
                    "(POST /v1/analytics/finops/exchange-rates), then import the file again",
                )
            self._rated.add((currency, day))
        charge = spec.CHARGE_CATEGORY_BY_LOWER.get(text("ChargeCategory").lower())
        if charge is None:
            raise RowError("ChargeCategory", f"must be one of {list(spec.CHARGE_CATEGORY_BY_LOWER.values())}")
        service_category = text("ServiceCategory")
        focus_category = spec.SERVICE_CATEGORY_BY_LOWER.get(service_category.lower(), service_category)
        category = spec.CATEGORY_FROM_FOCUS.get(focus_category, Category.OTHER).value
        subcategory = focus_category
        if (ours := text(spec.X_CATEGORY, required=False)) in _OUR_CATEGORIES:  # our own export, read back
            category, subcategory = ours, text(spec.X_SUBCATEGORY, required=False) or focus_category
        provider = text("ProviderName")
        account = text("BillingAccountId")
        sub_account = text("SubAccountId", required=False)
        billing_period = self._day(text("BillingPeriodStart"), "BillingPeriodStart")
        billed = _amount(text("BilledCost"), "BilledCost")
        effective = _amount(text("EffectiveCost"), "EffectiveCost")
        listed = text("ListCost", required=False)
        list_cost = _amount(listed, "ListCost") if listed else billed
        quantity_text = text("PricingQuantity", required=False)
        quantity = _amount(quantity_text, "PricingQuantity") if quantity_text else Decimal(0)
        tenant = self._tenant(values, header, text)
        source = f"focus:{provider}"
        key = (  # in the order of CostKey's fields
            tenant,
            day,
            source,
            account,
            sub_account,
            billing_period,
            category,
            subcategory,
            text(spec.X_MODEL, required=False),
            text("RegionId", required=False),
            text("ServiceName"),
            charge,
            currency,
            text("PricingUnit", required=False),
        )
        return (
            key,
            (billed, effective, list_cost, quantity),
            (self.target.scope, source, account, sub_account, billing_period),  # in the order of BillSlice's
        )

    def _day(self, value: str, column: str) -> date:
        """The UTC day of a FOCUS date/time (`2024-09-18T23:00:00Z`, the sample's `2024-09-18 23:00:00`, an offset,
        or a bare date); a time without a zone is UTC. Parsed once per distinct value."""
        day = self._days.get(value)
        if day is None:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise RowError(column, "not an ISO 8601 date and time") from None
            day = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
            if len(self._days) > 100_000:
                self._days.clear()
            self._days[value] = day
        return day

    def _tenant(self, values: list[str], header: Header, text: Any) -> str:
        if self.target.tenant_id is not None:
            return self.target.tenant_id
        if self.target.tenant_tag is not None:
            column = "Tags"
            raw = text("Tags", required=False) or "{}"
            try:
                tags = json.loads(raw)
            except ValueError:
                raise RowError("Tags", "not a JSON object") from None
            value = tags.get(self.target.tenant_tag) if isinstance(tags, dict) else None
            if value is None or isinstance(value, dict | list) or str(value).strip() == "":
                raise RowError("Tags", f"has no tag {self.target.tenant_tag!r}: no tenant")
            value = str(value).strip()
        else:
            column = self.target.tenant_column
            value = text(column)
        tenant = tenant_from_account(value)
        if tenant is None:
            raise RowError(column, f"{value[:60]!r} cannot be a tenant id")
        return tenant


def _amount(value: str, column: str) -> Decimal:
    """A FOCUS number (decimal or E notation) to 12 decimals."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RowError(column, "not a number") from None
    if not amount.is_finite():
        raise RowError(column, "not a finite number")
    if abs(amount) >= MAX_ABS_AMOUNT:
        raise RowError(column, "out of range (at most 10^15 per row)")
    exponent = amount.as_tuple().exponent
    return amount.quantize(AMOUNT_QUANTUM) if isinstance(exponent, int) and exponent < -12 else amount


def tenant_from_account(value: str) -> str | None:
    """The tenant a provider account id (or a tag value) names: the value itself when it is a tenant id, else the
    value with its slashes read as colons and the leading one dropped (Azure's `/subscriptions/<id>` is tenant
    `subscriptions:<id>`); None when even that is not a tenant id."""
    if _TENANT_ID.fullmatch(value):
        return value
    candidate = value.strip("/").replace("/", ":")
    return candidate if _TENANT_ID.fullmatch(candidate) else None
