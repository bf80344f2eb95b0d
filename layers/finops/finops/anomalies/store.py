"""The anomalies' SQL, all of it (ClickHouse): the stored detections (`cost_anomalies`), the acknowledgements,
which tenants had spend, and the cost per model, region and service that explains a detection. Rows come back
by column name as typed rows.

The daily spend series the detectors read is the cost domain's (`finops.costs.series`); the explanation's query
is built on the cost domain's effective cost rows (`finops.costs.queries.effective_rows`), so it counts spend
exactly as every cost report does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from finops.costs.queries import effective_rows, imported_currencies, settled_apart


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    """One row of `cost_anomalies`: a detection of one tenant, day, category and method."""

    id: str
    tenant_id: str
    anomaly_date: date
    service_category: str
    method: str
    active: bool  # false once a re-run no longer finds it
    direction: str
    severity: str
    expected_cost: Decimal
    actual_cost: Decimal
    impact: Decimal
    deviation_percent: float  # NaN when expected is 0
    score: float
    root_causes: str  # JSON array of the contributors
    detected_at: datetime


_ANOMALY_COLUMNS = [column.name for column in fields(AnomalyRow)]


@dataclass(frozen=True, slots=True)
class AcknowledgementRow:
    id: str  # the anomaly's
    acknowledged_by: str
    acknowledged_at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class DimensionCost:
    """A tenant's cost of one category on one day for one value of a dimension (model, region or service)."""

    tenant_id: str
    category: str
    day: date
    dimension: str
    value: str
    cost: Decimal


def tenants_with_spend(client: Client, first: date, last: date) -> list[str]:
    """The tenants that ingested usage for a day in [first, last]."""
    rows = client.query(
        "SELECT DISTINCT tenant_id FROM usage_ingest_log WHERE usage_date BETWEEN {first:Date} AND {last:Date}",
        parameters={"first": first, "last": last},
    ).named_results()
    return [row["tenant_id"] for row in rows]


def active_anomalies(client: Client, tenants: Sequence[str], start: date, end: date, method: str) -> list[AnomalyRow]:
    """The stored anomalies of some tenants on [start, end] found by `method` and still active."""
    rows = client.query(
        f"SELECT {', '.join(_ANOMALY_COLUMNS)} FROM cost_anomalies FINAL "
        "WHERE tenant_id IN {tenants:Array(String)} AND anomaly_date BETWEEN {start:Date} AND {end:Date} "
        "AND method = {method:String} AND active",
        parameters={"tenants": list(tenants), "start": start, "end": end, "method": method},
    ).named_results()
    return [AnomalyRow(**{**row, "id": str(row["id"])}) for row in rows]


def insert_anomalies(client: Client, rows: Sequence[AnomalyRow]) -> None:
    """Write anomaly rows (the newest `detected_at` of a key wins: the table is a ReplacingMergeTree)."""
    if rows:
        client.insert(
            "cost_anomalies",
            [[getattr(row, column) for column in _ANOMALY_COLUMNS] for row in rows],
            column_names=_ANOMALY_COLUMNS,
        )


def acknowledgements(client: Client, tenant_id: str, ids: Sequence[str]) -> list[AcknowledgementRow]:
    """The first acknowledgement of each of some anomalies of a tenant (the table keeps the earliest)."""
    if not ids:
        return []
    rows = client.query(
        "SELECT toString(anomaly_id) AS id, acknowledged_by, acknowledged_at, note "
        "FROM cost_anomaly_acknowledgements_v2 FINAL "
        "WHERE tenant_id = {tenant:String} AND anomaly_id IN {ids:Array(UUID)}",
        parameters={"tenant": tenant_id, "ids": list(ids)},
    ).named_results()
    return [AcknowledgementRow(**row) for row in rows]


def insert_acknowledgement(
    client: Client, tenant_id: str, anomaly_id: str, *, by: str, at: datetime, note: str
) -> None:
    client.insert(
        "cost_anomaly_acknowledgements_v2",
        [[tenant_id, anomaly_id, by, at, note]],
        column_names=["tenant_id", "anomaly_id", "acknowledged_by", "acknowledged_at", "note"],
    )


def costs_by_dimension(client: Client, tenants: Sequence[str], first: date, last: date) -> list[DimensionCost]:
    """Each tenant's daily cost per category and per model, region and service on [first, last] (the values
    that are set: a row without a model counts under its region and service only)."""
    rows_sql, params = effective_rows(
        tenants, first, last, imported=imported_currencies(client), settled_apart=settled_apart(client, tenants)
    )
    rows = client.query(
        "SELECT tenant_id, toString(service_category) AS category, day, dim.1 AS dimension, dim.2 AS value, "
        f"sum(reported_cost) AS cost FROM ({rows_sql}) "
        "ARRAY JOIN [('model', toString(model)), ('region', toString(region_id)), ('service', toString(service_name))] AS dim "
        "WHERE dim.2 != '' GROUP BY 1, 2, 3, 4, 5",
        parameters=params,
    ).named_results()
    return [DimensionCost(**row) for row in rows]
