"""Cost-explorer queries: costs over time, breakdowns, top drivers and the summary.

Every query reads the *effective* cost rows of one tenant: each fact row, plus the spend of its key ingested after
the row's own cut-off (`events_through`), plus all the spend of a key that has no fact row yet (today, late
telemetry). That live spend comes from `cost_live`, pre-aggregated per ingested batch as events arrive, never from
the raw events, so a query's cost does not grow with a tenant's events of the day. Spend is visible as soon as it
is ingested, and aggregation never changes a total, it only moves spend from the live rows into the facts: a
reader sees each fact row either in its old or in its new version, each with exactly its own live remainder
(finops.costs.aggregation). One query per call.

Identifiers in SQL (group-by columns, period expressions) come from fixed mappings; user values are always
server-side parameters. This is the store of the cost reads: rows come back as named tuples, by column name (the
writes' SQL, of ingestion, aggregation and the rate card, is in finops.costs.store).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, NamedTuple

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from finops.cache import Expiring
from finops.costs.meters import METERS
from finops.db.clickhouse import Row, typed_rows
from finops.db.faults import NO_EXCHANGE_RATE_MARKER, as_unavailable
from finops.models.common import CURRENCY
from finops.observability import add_milliseconds

Dimension = Literal["category", "subcategory", "model", "region", "service", "source", "chargeCategory"]
Granularity = Literal["daily", "weekly", "monthly", "total"]
# Which FOCUS cost a figure is: EffectiveCost (amortized, what FOCUS recommends for analysis; the default) or
# BilledCost (as invoiced). For rated telemetry the two are the same.
Metric = Literal["effective", "billed"]
TELEMETRY_SOURCE = "telemetry"

DIMENSION_COLUMNS: dict[str, str] = {
    "category": "service_category",
    "subcategory": "service_subcategory",
    "model": "model",
    "region": "region_id",
    "service": "service_name",
    "source": "source",
    "chargeCategory": "charge_category",
}
METRIC_COLUMNS: dict[str, str] = {"effective": "effective_cost", "billed": "billed_cost"}
# Weeks start on Monday (ISO 8601).
PERIOD_EXPRESSIONS: dict[str, str] = {
    "daily": "day",
    "weekly": "toMonday(day)",
    "monthly": "toStartOfMonth(day)",
    "total": "{d0:Date}",
}

_CATEGORY_FILTER = "(empty({categories:Array(String)}) OR has({categories:Array(String)}, toString(service_category)))"
_CHARGE_FILTER = "(empty({charges:Array(String)}) OR has({charges:Array(String)}, toString(charge_category)))"
_KEY = "tenant_id, day, service_category, service_subcategory, model, region_id, service_name"
# Each meter's pricing unit (a telemetry row's subcategory is its meter): constants of the code, not user input.
_METER_NAMES = "[" + ", ".join(f"'{m.name}'" for m in METERS) + "]"
_METER_UNITS = "[" + ", ".join(f"'{m.pricing_unit}'" for m in METERS) + "]"

# Telemetry: facts, live rows and surplus copies in one read of each table, grouped by fact key: a key's live rows
# (less the surplus copies of re-sent events, finops.costs.ingest) count when they were ingested after its fact row's
# cut-off (all of them without a fact row). Each table is read once: a second read of cost_facts could see another
# version of a row than the first and count its events twice. Which of the tables a concurrent aggregation touched
# first does not matter: live rows are never removed by it, and a fact row says itself which of them it holds.
# (A window giving every row its key's cut-off reads the same, but sorts every row: 1.7 times slower over 100
# tenants' 120 days; hash grouping with the live rows kept aside in an array is what scales.)
# Telemetry is rated in USD, its usage is its only charge category, and its billed, effective and list costs are one
# figure (the rate card's list price, or the cost the caller sent). Its pricing quantity is the meter's (a surplus
# copy of a re-sent event is subtracted from the cost, not the quantity: `cost_live_duplicates` keeps no quantities,
# so until its day is aggregated such a copy's quantity counts twice).
# `/*facts_in*/` and `/*live_in*/` narrow the facts and the live rows to some (tenant, day)s (_TELEMETRY_SETTLED_APART).
_FACTS_WHERE = (
    "tenant_id IN {tenants:Array(String)} AND charge_period_start BETWEEN {d0:Date} AND {d1:Date} AND "
    + _CATEGORY_FILTER
)
_LIVE_WHERE = (
    "tenant_id IN {tenants:Array(String)} AND usage_date BETWEEN {d0:Date} AND {d1:Date} AND " + _CATEGORY_FILTER
)
_TELEMETRY_COLUMNS = f"'{TELEMETRY_SOURCE}' AS source, 'Usage' AS charge_category, 'USD' AS billing_currency"
_PRICING_UNIT = f"transform(toString(service_subcategory), {_METER_NAMES}, {_METER_UNITS}, '') AS pricing_unit"
_MERGED_BY_KEY = f"""
SELECT {_KEY}, {_TELEMETRY_COLUMNS},
       fact_cost + arraySum(arrayMap(x -> x.2, arrayFilter(x -> x.1 > cut, live))) AS billed_cost,
       billed_cost AS effective_cost, billed_cost AS list_cost, {_PRICING_UNIT},
       fact_quantity + arraySum(arrayMap(x -> x.3, arrayFilter(x -> x.1 > cut, live))) AS pricing_quantity
FROM (
    SELECT {_KEY}, sum(fact_cost) AS fact_cost, sum(fact_quantity) AS fact_quantity, max(cut) AS cut,
           groupArrayIf((ingested_us, live_cost, live_quantity), ingested_us > 0) AS live
    FROM (
        SELECT tenant_id, charge_period_start AS day, service_category, service_subcategory, model, region_id,
               service_name, billed_cost AS fact_cost, toDecimal128(consumed_quantity, 12) AS fact_quantity,
               toUnixTimestamp64Micro(events_through) AS cut, toInt64(0) AS ingested_us,
               toDecimal128(0, 12) AS live_cost, toDecimal128(0, 12) AS live_quantity
        FROM cost_facts FINAL
        WHERE {_FACTS_WHERE}/*facts_in*/
        UNION ALL
        SELECT tenant_id, usage_date, service_category, service_subcategory, model, region_id, service_name,
               toDecimal128(0, 12), toDecimal128(0, 12), toInt64(0), toUnixTimestamp64Micro(ingested_at),
               billed_cost, toDecimal128(consumed_quantity, 12)
        FROM cost_live
        WHERE {_LIVE_WHERE}/*live_in*/
        UNION ALL
        SELECT tenant_id, usage_date, service_category, service_subcategory, model, region_id, service_name,
               toDecimal128(0, 12), toDecimal128(0, 12), toInt64(0), toUnixTimestamp64Micro(ingested_at),
               -billed_cost, toDecimal128(0, 12)
        FROM cost_live_duplicates FINAL
        WHERE {_LIVE_WHERE}/*live_in*/
    )
    GROUP BY {_KEY}
)
"""
_USAGE_ASKED = "has({charges_or_usage:Array(String)}, 'Usage')"


def _merged_by_key(facts_in: str = "", live_in: str = "") -> str:
    return _MERGED_BY_KEY.replace("/*facts_in*/", facts_in).replace("/*live_in*/", live_in)


# One tenant's calls: the merge by key alone, the same SQL as before the jobs' read below existed.
_TELEMETRY_ROWS = f"{_merged_by_key()}WHERE {_USAGE_ASKED}\n"

# The same rows, read for many tenants at once (the daily jobs): the merge by key above groups every fact row, though
# most days have no live rows at all (`cost_live` keeps 7 days of ingestion): half of the daily check's read. Here a
# (tenant, day) without live rows or surplus copies is read from its fact rows alone (FINAL: a concurrent run's rows
# are seen either old or new), and only the others go through the merge by key. Which days have
# live rows is computed once for the query (a MATERIALIZED CTE, evaluated once only with enable_materialized_cte = 1;
# without it ClickHouse inlines the CTE at each use, and two reads of cost_live could disagree on a day, counting its
# facts twice or not at all), so the two parts cannot disagree on a day. A live row ingested after that, for a day
# without live rows until then, is left out: it came after the query began. (Reading the live rows of days with no
# fact row apart too, without the merge, was slower: the spend query then computes its per-row segment over every
# live row.) Used only where the server is seen to evaluate such a CTE once (`settled_apart`).
_LIVE_DAY = " AND (tenant_id, usage_date) IN live_days"
# The setting goes on a SELECT of its own around the CTE's query: a SETTINGS clause cannot end a UNION ALL branch
# (the imported rows follow), and on the CTE's own SELECT it is applied too late (measured: inlined again).
_ONCE = "SETTINGS enable_materialized_cte = 1"
_TELEMETRY_SETTLED_APART = f"""
SELECT * FROM (SELECT * FROM (
    WITH live_days AS MATERIALIZED (
        SELECT DISTINCT tenant_id, usage_date FROM (
            SELECT tenant_id, usage_date FROM cost_live WHERE {_LIVE_WHERE}
            UNION ALL
            SELECT tenant_id, usage_date FROM cost_live_duplicates WHERE {_LIVE_WHERE}))
    SELECT tenant_id, charge_period_start AS day, service_category, service_subcategory, model, region_id,
           service_name, {_TELEMETRY_COLUMNS}, billed_cost, billed_cost AS effective_cost, billed_cost AS list_cost,
           {_PRICING_UNIT}, toDecimal128(consumed_quantity, 12) AS pricing_quantity
    FROM cost_facts FINAL
    WHERE {_FACTS_WHERE} AND (tenant_id, charge_period_start) NOT IN live_days
    UNION ALL
    {_merged_by_key(" AND (tenant_id, charge_period_start) IN live_days", _LIVE_DAY)}
)
WHERE {_USAGE_ASKED} {_ONCE})
"""
# The shape above, on numbers: the two parts of a CTE evaluated once add up to every number, every time.
_PROBE_NUMBERS = 100_000
_ONCE_PROBE = f"""
SELECT count() AS numbers FROM (SELECT * FROM (
    WITH picked AS MATERIALIZED (SELECT number FROM numbers(100000) WHERE rand() % 2 = 0)
    SELECT number FROM numbers(100000) WHERE number NOT IN picked
    UNION ALL
    SELECT number FROM numbers(100000) WHERE number IN picked)
WHERE number >= 0 {_ONCE})
"""

# Imported cost (FOCUS): each slice of a bill counts with the rows of its latest recorded import only
# (finops.focus.importer), so a re-import replaces and an unfinished import is invisible. One read of each table.
_IMPORTED_ROWS = f"""
SELECT tenant_id, charge_period_start AS day, service_category, service_subcategory, model, region_id, service_name,
       source, charge_category, billing_currency,
       sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost, sum(list_cost) AS list_cost,
       pricing_unit, sum(pricing_quantity) AS pricing_quantity
FROM imported_costs
INNER JOIN (
    SELECT import_scope, source, billing_account_id, sub_account_id, billing_period_start,
           argMax(import_id, committed_at) AS import_id
    FROM imported_cost_slices
    WHERE import_scope IN {{tenants:Array(String)}} OR import_scope = ''
    GROUP BY import_scope, source, billing_account_id, sub_account_id, billing_period_start
) AS current USING (import_scope, source, billing_account_id, sub_account_id, billing_period_start, import_id)
WHERE tenant_id IN {{tenants:Array(String)}} AND charge_period_start BETWEEN {{d0:Date}} AND {{d1:Date}}
  AND {_CATEGORY_FILTER} AND {_CHARGE_FILTER}
GROUP BY tenant_id, day, service_category, service_subcategory, model, region_id, service_name, source,
         charge_category, billing_currency, pricing_unit
"""

# A cost in its billing currency, converted into the report's currency with the rates in effect on its day
# (US dollars per unit: cost x rate of its currency / rate of the report's currency, exact, then truncated to 12
# decimals; USD's rate is 1). The rate of each (currency, day) is found by an ASOF join on the effective dates. A cost with no rate
# for its day raises (throwIf with NO_EXCHANGE_RATE_MARKER): finops.api answers it 422 naming `currency`, never a
# silent 1:1.
_RATES = "(SELECT currency, effective_from, usd_per_unit FROM exchange_rates FINAL)"


def _converted(metric_column: str, *, target_is_usd: bool) -> str:
    source_rate = "if(r.billing_currency = 'USD', toDecimal128(1, 12), fx.usd_per_unit)"
    target_rate = (
        "toDecimal128(1, 12)" if target_is_usd else "if(tx.usd_per_unit = 0, toDecimal128(1, 12), tx.usd_per_unit)"
    )
    missing = "(r.billing_currency != 'USD' AND fx.usd_per_unit = 0)" + (
        "" if target_is_usd else " OR tx.usd_per_unit = 0"
    )
    # In Decimal256 (76 digits) the product and the quotient are exact until the one truncation to 12 decimals.
    return (
        f"if(r.billing_currency = {{currency:String}}, r.{metric_column}, "
        f"toDecimal128(toDecimal256(r.{metric_column}, 12) * toDecimal256({source_rate}, 12) "
        f"/ toDecimal256({target_rate}, 12), 12)) "
        f"+ throwIf(r.billing_currency != {{currency:String}} AND ({missing}), '{NO_EXCHANGE_RATE_MARKER}')"
    )


def _effective_rows_sql(metric: str, currency: str, *, with_imports: bool, convert: bool, settled_apart: bool) -> str:
    telemetry = _TELEMETRY_SETTLED_APART if settled_apart else _TELEMETRY_ROWS
    rows = f"{telemetry} UNION ALL {_IMPORTED_ROWS}" if with_imports else telemetry
    if not convert:
        # Every currency these tenants' rows are known to be in is the report's: no rates to look up. A row in a
        # currency imported since the reader's index was loaded is left out (for at most its minute), never summed
        # as if it were in the report's currency.
        return f"SELECT *, {METRIC_COLUMNS[metric]} AS reported_cost FROM ({rows}) WHERE billing_currency = {{currency:String}}"
    target_is_usd = currency == CURRENCY
    target_join = (
        ""
        if target_is_usd
        else f"ASOF LEFT JOIN {_RATES} AS tx ON tx.currency = r.target AND r.day >= tx.effective_from\n"
    )
    return f"""
SELECT r.tenant_id AS tenant_id, r.day AS day, r.service_category AS service_category,
       r.service_subcategory AS service_subcategory, r.model AS model, r.region_id AS region_id,
       r.service_name AS service_name, r.source AS source, r.charge_category AS charge_category,
       r.billing_currency AS billing_currency, r.billed_cost AS billed_cost, r.effective_cost AS effective_cost,
       r.list_cost AS list_cost, r.pricing_unit AS pricing_unit, r.pricing_quantity AS pricing_quantity,
       {_converted(METRIC_COLUMNS[metric], target_is_usd=target_is_usd)} AS reported_cost
FROM (
    SELECT *, {{currency:String}} AS target FROM ({rows})
) AS r
ASOF LEFT JOIN {_RATES} AS fx ON fx.currency = r.billing_currency AND r.day >= fx.effective_from
{target_join}"""


def effective_rows(
    tenants: Sequence[str],
    start: date,
    end: date,
    categories: Sequence[str] = (),
    *,
    metric: Metric = "effective",
    currency: str = CURRENCY,
    charge_categories: Sequence[str] = (),
    imported: ImportedCurrencies | None = None,
    settled_apart: bool = False,
) -> tuple[str, dict[str, Any]]:
    """SQL (and its parameters) of the effective cost rows of some tenants over [start, end], one query.

    Rows: tenant_id, day, service_category, service_subcategory, model, region_id, service_name, source
    (`telemetry` or `focus:<provider>`), charge_category (FOCUS ChargeCategory), billing_currency, billed_cost,
    effective_cost and list_cost (in the billing currency), pricing_unit, pricing_quantity, and `reported_cost`: the
    `metric` converted into `currency`.
    Telemetry: each fact row plus the live spend its cut-off leaves out, and the live spend of keys with no fact row
    yet. Imported cost: the latest import of each slice of a bill.
    `imported` (from `imported_currencies`) lets the query leave out what these tenants do not have: the imported
    part for tenants without imported cost, the exchange rates when every currency is the report's. Without it the
    query reads everything, whatever it finds.
    `settled_apart` reads the days without live spend apart from the others (`settled_apart()` says when it pays):
    the same rows, fewer to group."""
    known = None if imported is None else imported.of(tenants)
    with_imports = known is None or bool(known)
    convert = known is None or currency != CURRENCY or any(c != currency for c in known)
    charges = list(charge_categories)
    sql = _effective_rows_sql(metric, currency, with_imports=with_imports, convert=convert, settled_apart=settled_apart)
    return sql, {
        "tenants": list(tenants),
        "d0": start,
        "d1": end,
        "categories": list(categories),
        "charges": charges,
        "charges_or_usage": charges or ["Usage"],
        "currency": currency,
    }


def settled_apart(client: Client, tenants: Sequence[str]) -> bool:
    """Whether a read of these tenants should take the settled days apart (_TELEMETRY_SETTLED_APART): for many
    tenants at once, where the grouping of every fact row is what costs (all tenants' spend in the budget bench:
    about twice as fast); not for one tenant's calls, whose cost is the query's planning, which the extra part adds
    to. Only on a server seen to evaluate a materialized CTE once (an older one reads the other way)."""
    return len(tenants) > 1 and evaluates_materialized_cte_once(client)


@lru_cache(maxsize=8)
def evaluates_materialized_cte_once(client: Client) -> bool:
    """Asked once per client: a server without materialized CTEs refuses the probe, one that inlines them (an older
    release, or one ignoring the setting) splits its random numbers differently in the two parts (three tries: an
    inlined CTE passes each with a chance of about 1 in 500). Slow or down (finops.db.faults), it raises and is asked
    again next time: that says nothing of the server's SQL."""
    try:
        return all(client.query(_ONCE_PROBE).result_rows[0][0] == _PROBE_NUMBERS for _ in range(3))
    except DatabaseError as error:
        if as_unavailable(error) is not None:
            raise
        return False  # the syntax or the setting refused: not on this server


@dataclass(frozen=True)
class ImportedCurrencies:
    """Each tenant that has imported cost, with the billing currencies of its rows (table imported_cost_currencies)."""

    by_tenant: Mapping[str, frozenset[str]]

    def of(self, tenants: Sequence[str]) -> frozenset[str]:
        """The currencies of any of these tenants' imported cost (empty: none of them has any)."""
        return frozenset().union(*(self.by_tenant.get(t, frozenset()) for t in tenants))


# The index is a row per tenant and currency, loaded whole: its size follows the tenants, not the stored history.
_imported_currencies = Expiring[ImportedCurrencies](60)


def imported_currencies(client: Client) -> ImportedCurrencies:
    """Which tenants have imported cost, in which currencies, reused for a minute per container (an import forgets it
    in the container that made it): a new import shows in every function's reports within a minute."""
    return _imported_currencies.get(lambda: _load_imported_currencies(client))


def forget_imported_currencies() -> None:
    _imported_currencies.forget()


def _load_imported_currencies(client: Client) -> ImportedCurrencies:
    by_tenant: dict[str, set[str]] = {}
    for row in client.query(
        "SELECT DISTINCT toString(tenant_id) AS tenant, toString(billing_currency) AS currency "
        "FROM imported_cost_currencies"
    ).named_results():
        by_tenant.setdefault(row["tenant"], set()).add(row["currency"])
    return ImportedCurrencies({tenant: frozenset(currencies) for tenant, currencies in by_tenant.items()})


@dataclass(frozen=True)
class CostScope:
    """One tenant's spend over an inclusive range of UTC days, optionally limited to some categories and charge
    categories, as one metric (effective or billed cost) in one currency."""

    tenant_id: str
    start: date
    end: date
    categories: tuple[str, ...] = ()
    metric: Metric = "effective"
    currency: str = CURRENCY
    charge_categories: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> CostScope:
        """The period of the same length just before this one."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))


class PeriodCost(NamedTuple):
    period: date  # the period's first day
    key: str | None  # the group's value; None without a dimension
    cost: Decimal


class DimensionCost(NamedTuple):
    dimension: str
    key: str
    cost: Decimal  # in the scope's days
    previous: Decimal  # in the period of the same length just before
    extra: Decimal  # in the extra range asked for (the summary's month to date)


class CategoryDayCost(NamedTuple):
    tenant_id: str
    category: str
    day: date
    cost: Decimal


class CostReader:
    """Builds and runs the queries over a tenant's effective cost rows (each endpoint reads one scope once)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def effective_rows(self, scope: CostScope) -> tuple[str, dict[str, Any]]:
        """The SQL of the effective cost rows of `scope` and its parameters."""
        return effective_rows(
            [scope.tenant_id],
            scope.start,
            scope.end,
            scope.categories,
            metric=scope.metric,
            currency=scope.currency,
            charge_categories=scope.charge_categories,
            imported=imported_currencies(self._client),
        )

    def grouped(
        self, scope: CostScope, *, granularity: Granularity = "total", dimension: Dimension | None = None
    ) -> list[PeriodCost]:
        """The cost of each period and group, ordered by period then key."""
        rows_sql, params = self.effective_rows(scope)
        period = PERIOD_EXPRESSIONS[granularity]
        key = f"toString({DIMENSION_COLUMNS[dimension]})" if dimension else "''"
        sql = (
            f"SELECT {period} AS period, {key} AS key, sum(reported_cost) AS cost FROM ({rows_sql}) "
            "GROUP BY period, key ORDER BY period, key"
        )
        rows = self._timed_query(PeriodCost, sql, params)
        return rows if dimension else [row._replace(key=None) for row in rows]

    def by_dimensions(
        self,
        scope: CostScope,
        dimensions: Sequence[Dimension],
        *,
        with_previous: bool,
        extra: tuple[date, date] | None = None,
    ) -> list[DimensionCost]:
        """The cost of each value of each dimension in the scope, in the previous period and in `extra`, in one
        query (the summary's month to date is the `extra` range)."""
        first = scope.previous().start if with_previous else scope.start
        if extra is not None:
            first = min(first, extra[0])
        wide = replace(scope, start=first, end=max(scope.end, extra[1] if extra else scope.end))
        rows_sql, params = self.effective_rows(wide)
        pairs = ", ".join(f"('{name}', toString({DIMENSION_COLUMNS[name]}))" for name in dimensions)
        sql = (
            "SELECT dim.1 AS dimension, dim.2 AS key, "
            "sumIf(reported_cost, day BETWEEN {cur0:Date} AND {cur1:Date}) AS cost, "
            "sumIf(reported_cost, day BETWEEN {prev0:Date} AND {prev1:Date}) AS previous, "
            "sumIf(reported_cost, day BETWEEN {extra0:Date} AND {extra1:Date}) AS extra "
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
        return self._timed_query(DimensionCost, sql, {**params, **bounds})

    def _timed_query(self, row: type[Row], sql: str, params: dict[str, Any]) -> list[Row]:
        started = time.perf_counter()
        rows = typed_rows(self._client, row, sql, params)
        add_milliseconds("QueryLatency", (time.perf_counter() - started) * 1000)
        return rows


def daily_costs_by_category(client: Client, tenants: Sequence[str], first: date, end: date) -> list[CategoryDayCost]:
    """Each (tenant, category, day) with spend over [first, end], as effective cost in USD."""
    rows_sql, params = effective_rows(
        tenants, first, end, imported=imported_currencies(client), settled_apart=settled_apart(client, tenants)
    )
    sql = (
        "SELECT tenant_id, toString(service_category) AS category, day, sum(reported_cost) AS cost "
        f"FROM ({rows_sql}) GROUP BY tenant_id, category, day"
    )
    return typed_rows(client, CategoryDayCost, sql, params)
