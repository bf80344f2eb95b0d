"""Cost-explorer queries: costs over time, breakdowns, top drivers and the summary.

Every query reads the *effective* cost rows of one tenant: each fact row, plus the spend of its key ingested after
the row's own cut-off (`events_through`), plus all the spend of a key that has no fact row yet (today, late
telemetry). That live spend comes from `cost_live`, pre-aggregated per ingested batch as events arrive, never from
the raw events, so a query's cost does not grow with a tenant's events of the day. Spend is visible as soon as it
is ingested, and aggregation never changes a total, it only moves spend from the live rows into the facts: a
reader sees each fact row either in its old or in its new version, each with exactly its own live remainder
(finops.costs.aggregation). One query per call.

Identifiers in SQL (group-by columns, period expressions) come from fixed mappings; user values are always
server-side parameters.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from clickhouse_connect.driver.client import Client
from pydantic import Field

from finops.errors import InvalidRequest
from finops.models.common import Category
from finops.observability import add_milliseconds

Dimension = Literal["category", "subcategory", "model", "region", "service"]
Granularity = Literal["daily", "weekly", "monthly", "total"]
# The `categories` query parameter: each of the five names at most once fits in 100 characters.
CategoryList = Annotated[str, Field(max_length=100, description="Comma list of AI, COMPUTE, STORAGE, EXPORT, EGRESS")]

DIMENSION_COLUMNS: dict[str, str] = {
    "category": "service_category",
    "subcategory": "service_subcategory",
    "model": "model",
    "region": "region_id",
    "service": "service_name",
}
# Weeks start on Monday (ISO 8601).
PERIOD_EXPRESSIONS: dict[str, str] = {
    "daily": "day",
    "weekly": "toMonday(day)",
    "monthly": "toStartOfMonth(day)",
    "total": "{d0:Date}",
}

_CATEGORY_FILTER = "(empty({categories:Array(String)}) OR has({categories:Array(String)}, toString(service_category)))"
_KEY = "tenant_id, day, service_category, service_subcategory, model, region_id, service_name"

# Facts, live rows and surplus copies in one read of each table. Per key, the live rows (less the surplus copies of
# re-sent events, finops.costs.ingest) count when they were ingested after that key's fact row's cut-off (all of
# them without a fact row): the window gives every row its key's cut-off. Each table is read once: a second read of
# cost_facts could see another version of a row than the first and count its events twice. Which of the tables a
# concurrent aggregation touched first does not matter: live rows are never removed by it, and a fact row says
# itself which of them it holds.
_EFFECTIVE_ROWS = f"""
SELECT {_KEY}, sum(fact_cost) + sumIf(live_cost, ingested_us > key_cut) AS billed_cost
FROM (
    SELECT *, max(cut) OVER (PARTITION BY {_KEY}) AS key_cut
    FROM (
        SELECT tenant_id, charge_period_start AS day, service_category, service_subcategory, model, region_id,
               service_name, billed_cost AS fact_cost, toUnixTimestamp64Micro(events_through) AS cut,
               toInt64(0) AS ingested_us, toDecimal128(0, 12) AS live_cost
        FROM cost_facts FINAL
        WHERE tenant_id IN {{tenants:Array(String)}} AND charge_period_start BETWEEN {{d0:Date}} AND {{d1:Date}}
          AND {_CATEGORY_FILTER}
        UNION ALL
        SELECT tenant_id, usage_date, service_category, service_subcategory, model, region_id, service_name,
               toDecimal128(0, 12), toInt64(0), toUnixTimestamp64Micro(ingested_at), billed_cost
        FROM cost_live
        WHERE tenant_id IN {{tenants:Array(String)}} AND usage_date BETWEEN {{d0:Date}} AND {{d1:Date}}
          AND {_CATEGORY_FILTER}
        UNION ALL
        SELECT tenant_id, usage_date, service_category, service_subcategory, model, region_id, service_name,
               toDecimal128(0, 12), toInt64(0), toUnixTimestamp64Micro(ingested_at), -billed_cost
        FROM cost_live_duplicates FINAL
        WHERE tenant_id IN {{tenants:Array(String)}} AND usage_date BETWEEN {{d0:Date}} AND {{d1:Date}}
          AND {_CATEGORY_FILTER}
    )
)
GROUP BY {_KEY}
"""


def effective_rows(
    tenants: Sequence[str], start: date, end: date, categories: Sequence[str] = ()
) -> tuple[str, dict[str, Any]]:
    """SQL (and its parameters) of the effective cost rows of some tenants over [start, end]: each fact row plus
    the live spend its cut-off leaves out, and the live spend of keys with no fact row yet."""
    return _EFFECTIVE_ROWS, {"tenants": list(tenants), "d0": start, "d1": end, "categories": list(categories)}


@dataclass(frozen=True)
class CostScope:
    """One tenant's spend over an inclusive range of UTC days, optionally limited to some categories."""

    tenant_id: str
    start: date
    end: date
    categories: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> CostScope:
        """The period of the same length just before this one."""
        return CostScope(
            self.tenant_id, self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.categories
        )


def make_scope(tenant_id: str, start: date, end: date, *, max_days: int, categories: str | None = None) -> CostScope:
    if start > end:
        raise InvalidRequest("`from` must be on or before `to`", field="from")
    if (end - start).days + 1 > max_days:
        raise InvalidRequest(f"the range from `from` to `to` may span at most {max_days} days", field="to")
    return CostScope(tenant_id, start, end, parse_categories(categories))


def parse_categories(value: str | None) -> tuple[str, ...]:
    if value is None or not value.strip():
        return ()
    names = [part.strip().upper() for part in value.split(",") if part.strip()]
    allowed = {c.value for c in Category}
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown categories {unknown}; expected a comma list of {sorted(allowed)}", field="categories"
        )
    return tuple(sorted(set(names)))


class CostReader:
    """Builds and runs the queries over a tenant's effective cost rows (each endpoint reads one scope once)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def effective_rows(self, scope: CostScope) -> tuple[str, dict[str, Any]]:
        """The SQL of the effective cost rows of `scope` and its parameters."""
        return effective_rows([scope.tenant_id], scope.start, scope.end, scope.categories)

    def grouped(
        self, scope: CostScope, *, granularity: Granularity = "total", dimension: Dimension | None = None
    ) -> list[tuple[date, str | None, Decimal]]:
        """Rows of (period start, group key, cost), ordered by period then key."""
        rows_sql, params = self.effective_rows(scope)
        period = PERIOD_EXPRESSIONS[granularity]
        key = f"toString({DIMENSION_COLUMNS[dimension]})" if dimension else "''"
        sql = (
            f"SELECT {period} AS period, {key} AS key, sum(billed_cost) AS cost FROM ({rows_sql}) "
            "GROUP BY period, key ORDER BY period, key"
        )
        result = self._timed_query(sql, params)
        return [(row[0], row[1] if dimension else None, row[2]) for row in result]

    def by_dimensions(
        self,
        scope: CostScope,
        dimensions: Sequence[Dimension],
        *,
        with_previous: bool,
        extra: tuple[date, date] | None = None,
    ) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
        """(dimension, key, cost in scope, cost in the previous period, cost in `extra`) for each value of each
        dimension, in one query (the summary's month to date is the `extra` range)."""
        first = scope.previous().start if with_previous else scope.start
        if extra is not None:
            first = min(first, extra[0])
        wide = CostScope(scope.tenant_id, first, max(scope.end, extra[1] if extra else scope.end), scope.categories)
        rows_sql, params = self.effective_rows(wide)
        pairs = ", ".join(f"('{name}', toString({DIMENSION_COLUMNS[name]}))" for name in dimensions)
        sql = (
            "SELECT dim.1 AS dimension, dim.2 AS key, "
            "sumIf(billed_cost, day BETWEEN {cur0:Date} AND {cur1:Date}) AS cost, "
            "sumIf(billed_cost, day BETWEEN {prev0:Date} AND {prev1:Date}) AS previous, "
            "sumIf(billed_cost, day BETWEEN {extra0:Date} AND {extra1:Date}) AS extra "
            f"FROM ({rows_sql}) ARRAY JOIN [{pairs}] AS dim "
            "WHERE dim.2 != '' GROUP BY dimension, key ORDER BY cost DESC, dimension, key"
        )
        previous = scope.previous()
        extra0, extra1 = extra or (date(1970, 1, 2), date(1970, 1, 1))  # an empty range
        bounds = {
            "cur0": scope.start,
            "cur1": scope.end,
            "prev0": previous.start if with_previous else date(1970, 1, 2),
            "prev1": previous.end if with_previous else date(1970, 1, 1),
            "extra0": extra0,
            "extra1": extra1,
        }
        return [(r[0], r[1], r[2], r[3], r[4]) for r in self._timed_query(sql, {**params, **bounds})]

    def _timed_query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        rows = [tuple(row) for row in self._client.query(sql, parameters=params).result_rows]
        add_milliseconds("QueryLatency", (time.perf_counter() - started) * 1000)
        return rows
