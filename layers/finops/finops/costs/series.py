"""Daily spend series for the statistical code (anomalies, budget forecasts); numpy lives here, not in the
query module every cost endpoint imports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
from clickhouse_connect.driver.client import Client

from finops.costs.queries import daily_costs_by_category


def daily_series_by_category(
    client: Client, tenants: Sequence[str], first: date, end: date
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Daily spend per (tenant, category) over [first, end] as a dense matrix (missing days are 0)."""
    rows = daily_costs_by_category(client, tenants, first, end)
    keys = sorted({(row.tenant_id, row.category) for row in rows})
    index = {k: i for i, k in enumerate(keys)}
    matrix = np.zeros((len(keys), (end - first).days + 1))
    for row in rows:
        matrix[index[(row.tenant_id, row.category)], (row.day - first).days] = float(row.cost)
    return keys, matrix
