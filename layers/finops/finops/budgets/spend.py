"""Budget spend, read from ClickHouse's effective cost rows (facts plus live events, so fresh within seconds
of ingestion), for many budgets in one query per batch of tenants, with a short per-container cache for the
enforcement hot path.

Each budget's spend is the sum over its current period (from the period's start to today) of the cost rows
matching its tenant, categories and filters. The query groups the rows by tenant, category, model, region,
service and *segment*: the days of a tenant are cut at the start (and the day after the end) of each of its
budgets' ranges, so every range is a run of whole segments and a row is tested against a handful of its own
tenant's boundaries, however many different ranges the other tenants' budgets have. (One `sumIf` column per
distinct range, as before, made the daily check's query grow with the number of distinct start dates.)

The daily check takes, from the same read, each tenant's daily spend per category for its forecasts (a second
grouping set), and reads many tenants at once with the settled days apart (finops.costs.queries.settled_apart).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from finops.budgets.periods import BudgetPeriod, period_containing
from finops.budgets.store import BudgetRecord
from finops.costs.queries import daily_costs_by_category, effective_rows, imported_currencies, settled_apart
from finops.models.common import CURRENCY

Range = tuple[date, date]
# Per tenant: ((category, model, region, service), cost per range of that tenant)
SpendRows = dict[str, list[tuple[tuple[str, str, str, str], dict[Range, Decimal]]]]
# Per (tenant, category): the cost in US dollars of each day with spend (the daily check's forecasts' history)
DailySpend = dict[tuple[str, str], dict[date, Decimal]]
# Tenants per spend query: the live-row lookup of the effective rows grows with tenants x live days, so a
# query over every tenant is slower than a few over batches of them.
TENANTS_PER_QUERY = 100
_SPEND_COLUMNS = (
    "tenant_id",
    "category",
    "model_name",
    "region",
    "service",
    "segment",
    "is_daily",
    "daily_day",
    "cost",
)


@dataclass(frozen=True)
class Spend:
    amount: Decimal
    as_of: datetime
    period: BudgetPeriod | None


def current_period(budget: BudgetRecord, today: date) -> BudgetPeriod | None:
    return period_containing(budget.period, budget.start_date, today)


class SpendReader:
    """Reads the spend of budgets' current periods; results younger than `max_age_seconds` are reused."""

    def __init__(self, client: Client | Callable[[], Client], *, max_age_seconds: float = 0.0) -> None:
        # A factory is called on first use, so a ClickHouse that is down fails a read, not the wiring.
        self._client_or_factory = client
        self._max_age = max_age_seconds
        self._cache: dict[tuple[str, tuple[tuple[str, tuple[Range, ...]], ...]], tuple[float, datetime, SpendRows]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        if callable(self._client_or_factory):
            self._client_or_factory = self._client_or_factory()
        return self._client_or_factory

    def spend(self, budgets: Sequence[BudgetRecord], today: date) -> dict[str, Spend]:
        """Each budget's spend this period, in its own currency (one query per currency and batch of tenants)."""
        return self.spend_and_daily(budgets, today)[0]

    def spend_and_daily(
        self, budgets: Sequence[BudgetRecord], today: date, *, daily_since: date | None = None
    ) -> tuple[dict[str, Spend], DailySpend]:
        """Each budget's spend this period, in its own currency, and (with `daily_since`) the daily spend in US
        dollars of each of their tenants' categories from `daily_since` to today: the daily check's forecasts need
        both. The history comes from the same read as the spend of the budgets in dollars (one pass over the cost
        rows for both); a tenant with budgets in other currencies only has it read on its own, in dollars (a history
        converted into the budget's currency would fail on any day before the currency's first rate)."""
        by_currency: dict[str, list[BudgetRecord]] = {}
        for budget in budgets:
            by_currency.setdefault(budget.currency, []).append(budget)
        result: dict[str, Spend] = {}
        daily: DailySpend = {}
        for currency, group in sorted(by_currency.items()):
            spend, days = self._spend_in(currency, group, today, daily_since if currency == CURRENCY else None)
            result.update(spend)
            daily.update(days)
        if daily_since is not None:
            read = {b.tenant_id for b in by_currency.get(CURRENCY, ()) if current_period(b, today) is not None}
            rest = sorted({b.tenant_id for b in budgets} - read)
            for first in range(0, len(rest), TENANTS_PER_QUERY):
                for row in daily_costs_by_category(
                    self.client, rest[first : first + TENANTS_PER_QUERY], daily_since, today
                ):
                    daily.setdefault((row.tenant_id, row.category), {})[row.day] = row.cost
        return result, daily

    def _spend_in(
        self, currency: str, budgets: Sequence[BudgetRecord], today: date, daily_since: date | None
    ) -> tuple[dict[str, Spend], DailySpend]:
        periods = {b.id: current_period(b, today) for b in budgets}
        wanted: dict[str, set[Range]] = {}
        for budget in budgets:
            period = periods[budget.id]
            if period is not None:
                wanted.setdefault(budget.tenant_id, set()).add(_range(period, today))
        now = datetime.now(UTC)
        if not wanted:
            return {b.id: Spend(Decimal(0), now, None) for b in budgets}, {}
        ranges = tuple(sorted((tenant, tuple(sorted(r))) for tenant, r in wanted.items()))
        as_of, rows, daily = self._rows(currency, ranges, daily_since, today)
        result = {}
        for budget in budgets:
            period = periods[budget.id]
            if period is None:
                result[budget.id] = Spend(Decimal(0), now, None)
                continue
            amount = _sum_matching(budget, rows.get(budget.tenant_id, ()), _range(period, today))
            result[budget.id] = Spend(amount, as_of, period)
        return result, daily

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

    def _rows(
        self, currency: str, ranges: tuple[tuple[str, tuple[Range, ...]], ...], daily_since: date | None, today: date
    ) -> tuple[datetime, SpendRows, DailySpend]:
        key = (currency, ranges)
        cacheable = daily_since is None  # the enforcement path's reads; the daily check's are read once
        with self._lock:
            cached = self._cache.get(key) if cacheable else None
            if cached and time.monotonic() - cached[0] < self._max_age:
                return cached[1], cached[2], {}
        as_of = datetime.now(UTC)
        rows: SpendRows = {}
        daily: DailySpend = {}
        for first in range(0, len(ranges), TENANTS_PER_QUERY):
            part = dict(ranges[first : first + TENANTS_PER_QUERY])
            spend, days = self._query(currency, part, (daily_since, today) if daily_since else None)
            rows.update(spend)
            daily.update(days)
        if cacheable:
            with self._lock:
                self._cache[key] = (time.monotonic(), as_of, rows)
                if len(self._cache) > 10_000:  # bounded: drop the oldest half
                    for stale in sorted(self._cache, key=lambda k: self._cache[k][0])[:5_000]:
                        del self._cache[stale]
        return as_of, rows, daily

    def _query(
        self, currency: str, ranges: dict[str, tuple[Range, ...]], daily: Range | None
    ) -> tuple[SpendRows, DailySpend]:
        tenants = sorted(ranges)
        start = min(r[0] for rs in ranges.values() for r in rs)
        end = max(r[1] for rs in ranges.values() for r in rs)
        if daily is not None:
            start, end = min(start, daily[0]), max(end, daily[1])
        # Each tenant's segment boundaries: the first day of each of its ranges and the day after each one ends.
        boundaries = {
            t: sorted({r[0] for r in ranges[t]} | {r[1] + timedelta(days=1) for r in ranges[t]}) for t in tenants
        }
        rows_sql, params = effective_rows(
            tenants,
            start,
            end,
            currency=currency,
            imported=imported_currencies(self.client),
            settled_apart=settled_apart(self.client, tenants),
        )
        params["seg_tenants"] = tenants
        params["seg_index"] = list(range(1, len(tenants) + 1))
        params["seg_bounds"] = [boundaries[t] for t in tenants]
        segment = (
            "arrayCount(b -> b <= day, arrayElement({seg_bounds:Array(Array(Date))}, transform(toString(tenant_id), "
            "{seg_tenants:Array(String)}, {seg_index:Array(UInt32)}, toUInt32(0)))) AS segment"
        )
        keys = "tenant_id, category, model_name, region, service, segment"
        if daily is None:
            extra, group_by = "0 AS is_daily, toDate(0) AS daily_day", keys
        else:
            # Days before the series's first fall into one bucket (the day before it), dropped below.
            # grouping(segment) is 1 on the rows of the daily set, which does not group by segment.
            params["daily_floor"] = daily[0] - timedelta(days=1)
            extra = "greatest(day, {daily_floor:Date}) AS daily_day, grouping(segment) AS is_daily"
            group_by = f"GROUPING SETS (({keys}), (tenant_id, category, daily_day))"
        sql = (
            "SELECT tenant_id, toString(service_category) AS category, toString(model) AS model_name, "
            f"toString(region_id) AS region, toString(service_name) AS service, {segment}, {extra}, "
            f"sum(reported_cost) AS cost FROM ({rows_sql}) GROUP BY {group_by}"
        )
        # Read by column name, column-oriented (as fast as rows here). An empty answer names no column (chDB).
        # grouping() as the SQL standard has it (1: not grouped by), whatever the server's profile says.
        answer = self.client.query(
            sql, parameters=params, column_oriented=True, settings={"force_grouping_standard_compatibility": 1}
        )
        columns = dict(zip(answer.column_names, answer.result_columns, strict=True))
        segments: dict[tuple[str, str, str, str, str], dict[int, Decimal]] = {}
        days: DailySpend = {}
        if columns:
            for tenant, category, model, region, service, segment_index, is_daily, day, cost in zip(
                *(columns[name] for name in _SPEND_COLUMNS), strict=True
            ):
                if not is_daily:
                    segments.setdefault((tenant, category, model, region, service), {})[segment_index] = cost
                elif daily is not None and day >= daily[0]:
                    days.setdefault((tenant, category), {})[day] = cost
        # Segment i holds the days in [bounds[i-1], bounds[i]), so a range is the run of segments first..last.
        spans = {
            t: {r: range(bisect.bisect_right(b, r[0]), bisect.bisect_right(b, r[1]) + 1) for r in ranges[t]}
            for t, b in boundaries.items()
        }
        result: SpendRows = {}
        for (tenant, *key), costs in segments.items():
            per_range = {}
            for r, span in spans[tenant].items():
                total = Decimal(0)
                for i in span:
                    if (cost := costs.get(i)) is not None:
                        total += cost
                per_range[r] = total
            result.setdefault(tenant, []).append((tuple(key), per_range))  # type: ignore[arg-type]
        return result, days


def _range(period: BudgetPeriod, today: date) -> Range:
    return (period.start, min(period.end, today))


def _sum_matching(
    budget: BudgetRecord, rows: Iterable[tuple[tuple[str, str, str, str], dict[Range, Decimal]]], period: Range
) -> Decimal:
    categories, models, regions, services = budget.categories, budget.models, budget.regions, budget.services
    total = Decimal(0)
    for (category, model, region, service), costs in rows:
        if (
            (not categories or category in categories)
            and (not models or model in models)
            and (not regions or region in regions)
            and (not services or service in services)
        ):
            total += costs[period]
    return total
