"""Budget spend, read from ClickHouse's effective cost rows (facts plus live events, so fresh within seconds
of ingestion), for many budgets in one query, with a short per-container cache for the enforcement hot path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from finops.budgets.periods import BudgetPeriod, period_containing
from finops.budgets.store import BudgetRecord
from finops.costs.queries import effective_rows

Range = tuple[date, date]
# (tenant, category, model, region, service) -> cost per requested range
SpendRows = dict[tuple[str, str, str, str, str], tuple[Decimal, ...]]


@dataclass(frozen=True)
class Spend:
    amount: Decimal
    as_of: datetime
    period: BudgetPeriod | None


def current_period(budget: BudgetRecord, today: date) -> BudgetPeriod | None:
    return period_containing(budget.period, budget.start_date, today)


class SpendReader:
    """Reads the spend of budgets' current periods; results younger than `max_age_seconds` are reused."""

    def __init__(self, client: Client, *, max_age_seconds: float = 0.0) -> None:
        self._client = client
        self._max_age = max_age_seconds
        self._cache: dict[tuple[tuple[str, ...], tuple[Range, ...]], tuple[float, datetime, SpendRows]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        return self._client

    def spend(self, budgets: Sequence[BudgetRecord], today: date) -> dict[str, Spend]:
        periods = {b.id: current_period(b, today) for b in budgets}
        ranges = tuple(sorted({(p.start, min(p.end, today)) for p in periods.values() if p is not None}))
        tenants = tuple(sorted({b.tenant_id for b in budgets if periods[b.id] is not None}))
        now = datetime.now(UTC)
        if not ranges:
            return {b.id: Spend(Decimal(0), now, None) for b in budgets}
        as_of, rows = self._rows(tenants, ranges)
        index = {r: i for i, r in enumerate(ranges)}
        result = {}
        for budget in budgets:
            period = periods[budget.id]
            if period is None:
                result[budget.id] = Spend(Decimal(0), now, None)
                continue
            column = index[(period.start, min(period.end, today))]
            result[budget.id] = Spend(_sum_matching(budget, rows, column), as_of, period)
        return result

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _rows(self, tenants: tuple[str, ...], ranges: tuple[Range, ...]) -> tuple[datetime, SpendRows]:
        key = (tenants, ranges)
        with self._lock:
            cached = self._cache.get(key)
            if cached and time.monotonic() - cached[0] < self._max_age:
                return cached[1], cached[2]
        as_of = datetime.now(UTC)
        rows = self._query(tenants, ranges)
        with self._lock:
            self._cache[key] = (time.monotonic(), as_of, rows)
            if len(self._cache) > 10_000:  # bounded: drop the oldest half
                for stale in sorted(self._cache, key=lambda k: self._cache[k][0])[:5_000]:
                    del self._cache[stale]
        return as_of, rows

    def _query(self, tenants: tuple[str, ...], ranges: tuple[Range, ...]) -> SpendRows:
        start = min(r[0] for r in ranges)
        end = max(r[1] for r in ranges)
        rows_sql, params = effective_rows(self._client, tenants, start, end)
        sums = ", ".join(
            f"sumIf(billed_cost, day BETWEEN {{r{i}s:Date}} AND {{r{i}e:Date}})" for i in range(len(ranges))
        )
        for i, (range_start, range_end) in enumerate(ranges):
            params[f"r{i}s"], params[f"r{i}e"] = range_start, range_end
        sql = (
            f"SELECT tenant_id, toString(service_category), toString(model), toString(region_id), "
            f"toString(service_name), {sums} FROM ({rows_sql}) GROUP BY 1, 2, 3, 4, 5"
        )
        return {tuple(r[:5]): tuple(r[5:]) for r in self._client.query(sql, parameters=params).result_rows}  # type: ignore[misc]


def _sum_matching(budget: BudgetRecord, rows: SpendRows, column: int) -> Decimal:
    return sum(
        (
            costs[column]
            for (tenant, category, model, region, service), costs in rows.items()
            if tenant == budget.tenant_id
            and _matches(budget.categories, category)
            and _matches(budget.models, model)
            and _matches(budget.regions, region)
            and _matches(budget.services, service)
        ),
        Decimal(0),
    )


def _matches(allowed: Iterable[str], value: str) -> bool:
    allowed = tuple(allowed)
    return not allowed or value in allowed
