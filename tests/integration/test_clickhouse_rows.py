"""finops.db.clickhouse.typed_rows: a query's rows reach the code by column name, whatever the column order, and a
column the row type does not know (or misses) fails loudly instead of shifting values."""

from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from finops.costs.models import RateCardEntry
from finops.db.clickhouse import typed_rows

SQL = "SELECT toDate('2026-03-01') AS day, 'AI' AS category, toDecimal128('1.5', 12) AS cost"


class DayCost(NamedTuple):
    day: date
    category: str
    cost: Decimal


class CostFirst(NamedTuple):
    cost: Decimal
    category: str
    day: date


def test_columns_in_the_order_of_the_fields_map_one_to_one(clickhouse: Any) -> None:
    assert typed_rows(clickhouse, DayCost, SQL) == [DayCost(date(2026, 3, 1), "AI", Decimal("1.5"))]


def test_columns_in_another_order_still_land_in_their_fields(clickhouse: Any) -> None:
    [row] = typed_rows(clickhouse, CostFirst, SQL)
    assert (row.day, row.category, row.cost) == (date(2026, 3, 1), "AI", Decimal("1.5"))


def test_a_column_the_row_type_does_not_have_fails_loudly(clickhouse: Any) -> None:
    with pytest.raises(TypeError):
        typed_rows(clickhouse, DayCost, SQL.replace("AS category", "AS service"))


def test_a_model_is_built_by_field_name(clickhouse: Any) -> None:
    sql = (
        "SELECT toDate('2026-03-01') AS effective_from, 'gb_hours' AS meter, '*' AS price_key, "
        "toDecimal128('0.0001', 12) AS unit_price, 'GB-hour' AS pricing_unit, 3 AS version"
    )
    [entry] = typed_rows(clickhouse, RateCardEntry, sql)
    assert (entry.version, entry.meter, entry.unit_price, entry.source) == (3, "gb_hours", Decimal("0.0001"), "")
    # Every field as a column, in the model's order (the order a NamedTuple is built in): still built by keyword.
    columns = (
        "3 AS version, toDate('2026-03-01') AS effective_from, 'gb_hours' AS meter, '*' AS price_key, "
        "toDecimal128('0.0001', 12) AS unit_price, 'GB-hour' AS pricing_unit, 'seed' AS source"
    )
    assert typed_rows(clickhouse, RateCardEntry, f"SELECT {columns}")[0].source == "seed"
    # A model ignores an unknown key by itself: the column must still fail loudly, not vanish.
    with pytest.raises(TypeError):
        typed_rows(clickhouse, RateCardEntry, sql.replace("AS version", "AS versoin"))


def test_an_empty_result_is_no_rows(clickhouse: Any) -> None:
    assert typed_rows(clickhouse, DayCost, SQL + " WHERE 0") == []
