"""Importing FOCUS cost data: a CSV file (plain or gzip), streamed row by row, summed per day into imported_costs.

Memory stays bounded whatever the file's size: rows are read one at a time, summed per day and key, and the sums are
flushed to ClickHouse every FLUSH_KEYS keys (the table sums the partial rows of one import). What grows with the
file is only the reply's counters, its first MAX_REPORTED_SKIPS skipped rows and the set of bill slices.

Idempotent: every import writes under its own id and then records, in one insert, that it now holds each slice of
the bill it covered: (scope, provider, billing account, sub account, billing period), the scope being the tenant the
import was made for ('' when a column of the file named the tenants). The cost queries count each slice's latest
import only (finops.costs.queries), so importing the same file again, or a re-stated bill, replaces; an import that
fails halfway records nothing and is never counted.

The pieces: reading the bytes as CSV records (finops.focus.reading), reading a row (finops.focus.rows, where the
mapping of FOCUS columns is described), the bookkeeping of one import (here), writing (finops.focus.store).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

from clickhouse_connect.driver.client import Client

from finops.costs.queries import forget_imported_currencies
from finops.currencies.rates import ExchangeRates
from finops.errors import InvalidRequest
from finops.focus.models import MAX_REPORTED_SKIPS, CurrencyTotals, ImportResult, SkippedRow, SourceTotals
from finops.focus.reading import csv_records, csv_text
from finops.focus.rows import Header, ImportTarget, KeyValues, RowError, RowParser, SliceValues
from finops.focus.store import BillSlice, CostKey, Sums, insert_imported_costs, record_slices

FLUSH_KEYS = 20_000  # summed rows held in memory before they are written
MAX_SLICES = 100_000  # distinct (scope, provider, billing account, sub account, billing period) in one import


@dataclass
class _Totals:
    rows: int = 0
    billed: Decimal = Decimal(0)
    effective: Decimal = Decimal(0)

    def add(self, rows: int, billed: Decimal, effective: Decimal) -> None:
        self.rows += rows
        self.billed += billed
        self.effective += effective


@dataclass
class _Import:
    """The state of one running import: the sums not yet written (per key, plain tuples: see finops.focus.rows), the
    bill slices it covers, and the totals of what it wrote (counted per key, as each flush writes them)."""

    client: Client
    parser: RowParser
    import_id: uuid.UUID = field(default_factory=uuid.uuid4)
    sums: dict[KeyValues, Sums] = field(default_factory=dict)
    slices: set[SliceValues] = field(default_factory=set)
    totals: dict[str, _Totals] = field(default_factory=dict)
    by_source: dict[tuple[str, str], _Totals] = field(default_factory=dict)
    tenants: set[str] = field(default_factory=set)
    skipped: list[SkippedRow] = field(default_factory=list)
    rows_read: int = 0
    rows_skipped: int = 0

    def add(self, line: int, values: list[str], header: Header) -> None:
        self.rows_read += 1
        try:
            key, amounts, slice_ = self.parser.parse(values, header)
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
        if len(self.sums) >= FLUSH_KEYS:
            self.flush()

    def flush(self) -> None:
        if not self.sums:
            return
        written = [(CostKey._make(key), sums) for key, sums in self.sums.items()]
        for key, (billed, effective, _, _, rows) in written:
            self.tenants.add(key.tenant_id)
            self.totals.setdefault(key.billing_currency, _Totals()).add(rows, billed, effective)
            self.by_source.setdefault((key.source, key.billing_currency), _Totals()).add(rows, billed, effective)
        insert_imported_costs(self.client, self.parser.target.scope, self.import_id, written)
        self.sums.clear()

    def commit(self, now: datetime) -> None:
        """Make the import count: from this insert on, it holds every slice it covered."""
        self.flush()
        if self.slices:
            slices = [BillSlice._make(slice_) for slice_ in sorted(self.slices)]
            record_slices(self.client, slices, self.import_id, committed_at=now)
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
    parser = RowParser(target=target, rates=rates, today=now.date(), retention_days=retention_days)
    state = _Import(client=client, parser=parser)
    records = csv_records(csv_text(stream, max_bytes=max_bytes))
    first = next(records, None)
    if first is None:
        raise InvalidRequest("the file is empty: a FOCUS file starts with its header", field="body", location="body")
    header = Header(first[1], target)
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
