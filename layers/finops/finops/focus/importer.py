"""Importing FOCUS cost data: a CSV file (plain or gzip), streamed row by row, summed per day into imported_costs.

Memory stays bounded whatever the file's size: rows are read one at a time, summed per day and key, and the sums are
flushed to ClickHouse every FLUSH_KEYS keys (the table sums the partial rows of one import). What grows with the
file is only the reply's counters, its first MAX_REPORTED_SKIPS skipped rows and the set of bill slices.

Idempotent: every import writes under its own id and then records, in one insert, that it now holds each slice of
the bill it covered: (scope, provider, billing account, sub account, billing period), the scope being the tenant the
import was made for ('' when a column of the file named the tenants). The cost queries count each slice's latest
import only (finops.costs.queries), so importing the same file again, or a re-stated bill, replaces; an import that
fails halfway records nothing and is never counted.

Mapping (README, "Importing FOCUS cost data"): ChargePeriodStart's UTC day is the day (hourly rows add up per day;
a row is counted on the day its charge period starts), ServiceCategory maps to our categories (finops.focus.spec)
and is kept as the subcategory, ServiceName is the service, RegionId the region, ProviderName the source
(`focus:<ProviderName>`), BilledCost, EffectiveCost and ListCost are kept in BillingCurrency (negative rows, credits
and refunds, count negative), ChargeCategory is kept (spelling normalised), PricingQuantity and PricingUnit too.
Amounts keep 12 decimals (more are rounded half to even). Nulls are the bare token NULL or an empty field.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import json
import re
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from clickhouse_connect.driver.client import Client

from finops.costs.queries import forget_imported_currencies
from finops.currencies.rates import ExchangeRates
from finops.errors import InvalidRequest, PayloadTooLarge
from finops.focus import spec
from finops.focus.models import (
    MAX_REPORTED_SKIPS,
    CurrencyTotals,
    ImportResult,
    SkippedRow,
    SourceTotals,
)
from finops.models.common import EARLIEST_DATE, TENANT_ID_PATTERN, Category

FLUSH_KEYS = 20_000  # summed rows held in memory before they are written
MAX_SLICES = 100_000  # distinct (scope, provider, billing account, sub account, billing period) in one import
MAX_FIELD_CHARS = 1_000_000  # one CSV field (Tags can be long); csv's default of 131,072 is too small for some bills
MAX_LABEL_CHARS = 256  # service, region, subcategory and model names, and account ids
MAX_ABS_AMOUNT = Decimal(10**15)  # one row's cost or quantity
AMOUNT_QUANTUM = Decimal("0.000000000001")  # 12 decimals, as stored
DEFAULT_TENANT_COLUMN = "SubAccountId"
NULL_TOKENS = frozenset({"", "NULL"})
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
_GZIP_MAGIC = b"\x1f\x8b"
_OUR_CATEGORIES = frozenset(c.value for c in Category)

# The columns of a summed row: its key (as _Import builds it), then the import's scope and id, then the sums.
KEY_COLUMNS = [
    "tenant_id",
    "charge_period_start",
    "source",
    "billing_account_id",
    "sub_account_id",
    "billing_period_start",
    "service_category",
    "service_subcategory",
    "model",
    "region_id",
    "service_name",
    "charge_category",
    "billing_currency",
    "pricing_unit",
]
IMPORTED_COST_COLUMNS = [
    *KEY_COLUMNS,
    "import_scope",
    "import_id",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "pricing_quantity",
    "row_count",
]
_SLICE_COLUMNS = [
    "import_scope",
    "source",
    "billing_account_id",
    "sub_account_id",
    "billing_period_start",
    "import_id",
    "committed_at",
]


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


# --- reading the bytes ---------------------------------------------------------------------------------


class _Limited(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes (a gzip body can expand a thousandfold)."""

    def __init__(self, inner: IO[bytes], limit: int | None) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        if self._left is not None:
            self._left -= len(data)
            if self._left < 0:
                raise PayloadTooLarge("the decompressed file is larger than this import accepts; use the S3 import")
        buffer[: len(data)] = data
        return len(data)


def csv_text(stream: IO[bytes], *, max_bytes: int | None = None) -> IO[str]:
    """The file as text: gunzipped when it starts with the gzip magic bytes, UTF-8 with or without a BOM."""
    buffered = io.BufferedReader(_Unbuffered(stream), buffer_size=1 << 16)
    raw: IO[bytes] = buffered
    if buffered.peek(2)[:2] == _GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    limited = io.BufferedReader(_Limited(raw, max_bytes), buffer_size=1 << 16)
    return io.TextIOWrapper(limited, encoding="utf-8-sig", newline="")


class _Unbuffered(io.RawIOBase):
    """Any object with read() (a botocore StreamingBody, a BytesIO) as a raw stream BufferedReader can wrap."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def http_body(body: str | None, is_base64_encoded: bool) -> IO[bytes]:
    """The request body as bytes (API Gateway base64-encodes a binary body, such as a gzip one)."""
    if not body:
        raise InvalidRequest("the body is empty: send the FOCUS CSV file", field="body", location="body")
    if not is_base64_encoded:
        return io.BytesIO(body.encode())
    try:
        return io.BytesIO(base64.b64decode(body, validate=True))
    except binascii.Error:
        raise InvalidRequest("the body is not valid base64", field="body", location="body") from None


# --- one row ------------------------------------------------------------------------------------------


class _Header:
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
class _Totals:
    rows: int = 0
    billed: Decimal = Decimal(0)
    effective: Decimal = Decimal(0)

    def add(self, billed: Decimal, effective: Decimal) -> None:
        self.rows += 1
        self.billed += billed
        self.effective += effective


@dataclass
class _Import:
    """The state of one running import."""

    client: Client
    target: ImportTarget
    rates: ExchangeRates
    today: date
    retention_days: int
    import_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sums: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict)
    slices: set[tuple[str, str, str, str, date]] = field(default_factory=set)
    totals: dict[str, _Totals] = field(default_factory=dict)
    by_source: dict[tuple[str, str], _Totals] = field(default_factory=dict)
    tenants: set[str] = field(default_factory=set)
    skipped: list[SkippedRow] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0
    _days: dict[str, date] = field(default_factory=dict)
    _rated: set[tuple[str, date]] = field(default_factory=set)

    @property
    def oldest_day(self) -> date:
        return max(EARLIEST_DATE, self.today - timedelta(days=self.retention_days))

    def add(self, line: int, values: list[str], header: _Header) -> None:
        self.rows_read += 1
        try:
            key, amounts, slice_ = self._parse(values, header)
        except RowError as error:
            self.rows_skipped += 1
            if len(self.skipped) < MAX_REPORTED_SKIPS:
                self.skipped.append(SkippedRow(line=line, column=error.column, reason=error.reason))
            return
        self.slices.add(slice_)
        billed, effective, list_cost, quantity = amounts
        summed = self.sums.get(key)
        if summed is None:
            self.sums[key] = [billed, effective, list_cost, quantity, 1]
        else:
            summed[0] += billed
            summed[1] += effective
            summed[2] += list_cost
            summed[3] += quantity
            summed[4] += 1
        tenant, currency, source = key[0], key[12], key[2]
        self.tenants.add(tenant)
        self.totals.setdefault(currency, _Totals()).add(billed, effective)
        self.by_source.setdefault((source, currency), _Totals()).add(billed, effective)
        if len(self.sums) >= FLUSH_KEYS:
            self.flush()

    def _parse(
        self, values: list[str], header: _Header
    ) -> tuple[tuple[Any, ...], tuple[Decimal, Decimal, Decimal, Decimal], tuple[str, str, str, str, date]]:
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
        key = (  # in the order of KEY_COLUMNS
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
            (self.target.scope, source, account, sub_account, billing_period),
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

    def _tenant(self, values: list[str], header: _Header, text: Any) -> str:
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

    def flush(self) -> None:
        if not self.sums:
            return
        scope, import_id = self.target.scope, self.import_id
        rows = [[*key, scope, import_id, *sums] for key, sums in self.sums.items()]
        self.client.insert("imported_costs", rows, column_names=IMPORTED_COST_COLUMNS)
        self.sums.clear()

    def commit(self, now: datetime) -> None:
        """Make the import count: from this insert on, it holds every slice it covered."""
        self.flush()
        if self.slices:
            self.client.insert(
                "imported_cost_slices",
                [[*slice_, self.import_id, now] for slice_ in sorted(self.slices)],
                column_names=_SLICE_COLUMNS,
            )
            forget_imported_currencies()  # this container's reports show the import at once, others' within a minute

    def result(self) -> ImportResult:
        return ImportResult(
            import_id=str(self.import_id),
            rows_read=self.rows_read,
            rows_imported=self.rows_read - self.rows_skipped,
            rows_skipped=self.rows_skipped,
            skipped=self.skipped,
            totals=[
                CurrencyTotals(currency=c, rows=t.rows, billed_cost=t.billed, effective_cost=t.effective)
                for c, t in sorted(self.totals.items())
            ],
            by_source=[
                SourceTotals(source=s, currency=c, rows=t.rows, billed_cost=t.billed, effective_cost=t.effective)
                for (s, c), t in sorted(self.by_source.items())
            ],
            tenants=sorted(self.tenants),
            slices=len(self.slices),
        )


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


def _records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, strict=True)
    try:
        for values in reader:
            if values:  # a blank line is no row
                yield reader.line_num, values
    except csv.Error as error:
        raise InvalidRequest(
            f"line {reader.line_num}: the file is not valid CSV ({error})", field="body", location="body"
        ) from None
    except UnicodeDecodeError:
        raise InvalidRequest(
            f"after line {reader.line_num}: the file is not UTF-8 text", field="body", location="body"
        ) from None
    except (OSError, EOFError, zlib.error) as error:  # a gzip stream that is corrupt or cut short
        raise InvalidRequest(f"the gzip data is corrupt ({error})", field="body", location="body") from None


def import_focus(
    client: Client,
    stream: IO[bytes],
    target: ImportTarget,
    *,
    rates: ExchangeRates,
    retention_days: int,
    now: datetime | None = None,
    max_bytes: int | None = None,
) -> ImportResult:
    """Read a FOCUS CSV file (plain or gzip) and import its rows for `target`; see the module docstring."""
    now = now or datetime.now(UTC)
    csv.field_size_limit(MAX_FIELD_CHARS)
    state = _Import(client=client, target=target, rates=rates, today=now.date(), retention_days=retention_days)
    records = _records(csv_text(stream, max_bytes=max_bytes))
    first = next(records, None)
    if first is None:
        raise InvalidRequest("the file is empty: a FOCUS file starts with its header", field="body", location="body")
    header = _Header(first[1], target)
    for line, values in records:
        if len(state.slices) >= MAX_SLICES:
            raise InvalidRequest(
                f"more than {MAX_SLICES} billing accounts, sub accounts and periods in one file: split it",
                field="body",
                location="body",
            )
        state.add(line, values, header)
    state.commit(now)
    return state.result()
