"""Daily spend series for the statistical code (anomalies, budget forecasts); numpy lives here, not in the
query module every cost endpoint imports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
from clickhouse_connect.driver.client import Client

from finops.costs.queries import effective_rows, imported_currencies


def daily_series_by_category(
    client: Client, tenants: Sequence[str], first: date, end: date
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Daily spend per (tenant, category) over [first, end] as a dense matrix (missing days are 0)."""
    rows_sql, params = effective_rows(tenants, first, end, imported=imported_currencies(client))
    result = client.query(
        f"SELECT tenant_id, toString(service_category), day, sum(reported_cost) FROM ({rows_sql}) GROUP BY 1, 2, 3",
        parameters=params,
    ).result_rows
    keys = sorted({(r[0], r[1]) for r in result})
    index = {k: i for i, k in enumerate(keys)}
    matrix = np.zeros((len(keys), (end - first).days + 1))
    for tenant, category, day, cost in result:
        matrix[index[(tenant, category)], (day - first).days] = float(cost)
    return keys, matrix
