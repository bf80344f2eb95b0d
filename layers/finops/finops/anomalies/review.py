"""The endpoints' use cases: list a tenant's anomalies of a period, and acknowledge one.

Reading anomalies detects them on the spot and stores nothing (a read never writes; detection is cheap, so the
answer always reflects the latest spend). An anomaly's id says which day, category and method it is, so an
acknowledgement is checked against a fresh detection of exactly that day and kept (first one stands) in its own
table, which no detection ever rewrites.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client

from finops.anomalies.detection import AnomalyMethod
from finops.anomalies.ids import AnomalyKey, anomaly_id, parse_anomaly_id
from finops.anomalies.models import AnomaliesResponse, AnomalyOut
from finops.anomalies.scan import replies, scan
from finops.anomalies.store import acknowledgements, insert_acknowledgement, tenants_with_spend
from finops.auth import Permission, Principal
from finops.errors import NotFound
from finops.models.common import Category

NOT_FOUND = "anomaly not found"


def list_anomalies(
    client: Client,
    tenant_id: str,
    start: date,
    end: date,
    method: AnomalyMethod,
    *,
    severity: str | None,
    category: Category | None,
    direction: str | None,
) -> AnomaliesResponse:
    """The tenant's anomalies on [start, end] found by `method`, filtered by severity, category and direction."""
    wanted = [
        f
        for f in scan(client, [tenant_id], start, end, method)
        if (severity is None or f.detection.severity == severity)
        and (category is None or f.category == category)
        and (direction is None or f.detection.direction == direction)
    ]
    anomalies = replies(client, wanted, method, detected_at=datetime.now(UTC))
    return AnomaliesResponse(tenant_id=tenant_id, from_=start, to=end, method=method, anomalies=anomalies)


def acknowledge(client: Client, principal: Principal, anomaly_id_: str, *, note: str) -> AnomalyOut:
    """Record who reviewed an anomaly and when; the first acknowledgement stands. 404 unless the caller may see
    the anomaly and a fresh detection of its day still finds it; 403 for a reader who may not acknowledge."""
    key = parse_anomaly_id(anomaly_id_)
    tenant = _tenant_of(client, principal, key) if key is not None else None
    if key is None or tenant is None:
        raise NotFound(NOT_FOUND)
    principal.require(Permission.ACKNOWLEDGE_ANOMALIES, tenant)
    found = scan(client, [tenant], key.day, key.day, key.method)
    canonical = str(uuid.UUID(anomaly_id_))
    matching = [f for f in found if anomaly_id(f.tenant_id, f.day, f.category, key.method) == canonical]
    if not matching:
        raise NotFound(NOT_FOUND)
    if not acknowledgements(client, tenant, [canonical]):
        insert_acknowledgement(client, tenant, canonical, by=principal.subject, at=datetime.now(UTC), note=note)
    return replies(client, matching, key.method, detected_at=datetime.now(UTC))[0]


def _tenant_of(client: Client, principal: Principal, key: AnomalyKey) -> str | None:
    """The tenant an anomaly key belongs to, among those the caller may read (a system caller: every tenant that
    had spend on that day); None when it is none of them."""
    if not principal.is_system:
        tenant = principal.tenant_id
        return tenant if tenant is not None and key.belongs_to(tenant) else None
    return next((t for t in tenants_with_spend(client, key.day, key.day) if key.belongs_to(t)), None)
