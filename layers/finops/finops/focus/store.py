"""The SQL of FOCUS cost data: the summed rows of an import (`imported_costs`), the bill slices each import holds
(`imported_cost_slices`), and the rows an export writes. Rows are typed and written and read by column name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from clickhouse_connect.driver.client import Client

from finops.costs.queries import CostScope, effective_rows, imported_currencies
from finops.db.clickhouse import typed_rows


class CostKey(NamedTuple):
    """What the rows of an import are summed by: a row of `imported_costs` per key and import."""

    tenant_id: str
    charge_period_start: date
    source: str
    billing_account_id: str
    sub_account_id: str
    billing_period_start: date
    service_category: str
    service_subcategory: str
    model: str
    region_id: str
    service_name: str
    charge_category: str
    billing_currency: str
    pricing_unit: str


# The sums of a key, in this order, as `Sums` lists them.
SUM_COLUMNS = ("billed_cost", "effective_cost", "list_cost", "pricing_quantity", "row_count")
Sums = list[Any]  # billed, effective and list cost (Decimal), pricing quantity (Decimal), and how many rows (int)


class BillSlice(NamedTuple):
    """A slice of a bill: whose (the tenant an import was made for, '' when a column named the tenants), which
    provider, billing account, sub account and billing period. An import replaces the slices it covers."""

    import_scope: str
    source: str
    billing_account_id: str
    sub_account_id: str
    billing_period_start: date


def insert_imported_costs(
    client: Client, scope: str, import_id: uuid.UUID, sums: Sequence[tuple[CostKey, Sums]]
) -> None:
    """Summed rows of an import (the table adds up the partial rows of one import)."""
    client.insert(
        "imported_costs",
        [[*key, scope, import_id, *key_sums] for key, key_sums in sums],
        column_names=[*CostKey._fields, "import_scope", "import_id", *SUM_COLUMNS],
    )


def record_slices(client: Client, slices: Iterable[BillSlice], import_id: uuid.UUID, *, committed_at: datetime) -> None:
    """From this insert on, the import holds these slices: the cost queries count its rows, not an earlier one's."""
    client.insert(
        "imported_cost_slices",
        [[*slice_, import_id, committed_at] for slice_ in slices],
        column_names=[*BillSlice._fields, "import_id", "committed_at"],
    )


class ExportRow(NamedTuple):
    day: date
    category: str
    subcategory: str
    model: str
    region: str
    service: str
    source: str
    charge_category: str
    currency: str
    pricing_unit: str
    billed_cost: Decimal
    effective_cost: Decimal
    list_cost: Decimal
    pricing_quantity: Decimal


_EXPORT_ROWS = """
SELECT day, toString(service_category) AS category, toString(service_subcategory) AS subcategory,
       toString(model) AS model, toString(region_id) AS region, toString(service_name) AS service,
       toString(source) AS source, toString(charge_category) AS charge_category, toString(billing_currency) AS currency,
       toString(pricing_unit) AS pricing_unit, sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost,
       sum(list_cost) AS list_cost, sum(pricing_quantity) AS pricing_quantity
FROM ({rows})
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
LIMIT {limit}
"""


def export_rows(client: Client, scope: CostScope, *, limit: int) -> list[ExportRow]:
    """The tenant's cost over the scope's days, a row per day and dimension in its billing currency, at most
    `limit` rows."""
    rows_sql, params = effective_rows(
        [scope.tenant_id],
        scope.start,
        scope.end,
        scope.categories,
        charge_categories=scope.charge_categories,
        imported=imported_currencies(client),
    )
    return typed_rows(client, ExportRow, _EXPORT_ROWS.format(rows=rows_sql, limit=limit), params)
