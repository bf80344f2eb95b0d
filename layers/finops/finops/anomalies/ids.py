"""Anomaly ids: RFC 9562 UUIDv8 that say which day, category and method an anomaly is, and whose tenant.

88 bits of a hash of the tenant, the day, the category and the method, so the same anomaly found twice has the
same id, and an acknowledgement can find the day to check from the id alone. Codes are append-only: never
renumber one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date

from finops.anomalies.detection import AnomalyMethod
from finops.models.common import EARLIEST_DATE, LATEST_DATE

_CATEGORY_CODES = {"AI": 1, "COMPUTE": 2, "STORAGE": 3, "EXPORT": 4, "EGRESS": 5}
_METHOD_CODES = {"auto": 1, "statistical": 2, "threshold": 3, "seasonal": 4}
_ID_LAYOUT = 1
_LOW_40 = (1 << 40) - 1


@dataclass(frozen=True)
class AnomalyKey:
    """What an anomaly id says: the day, category and method, and the hash of the tenant."""

    day: date
    category: str
    method: AnomalyMethod
    tenant_hash: int

    def belongs_to(self, tenant_id: str) -> bool:
        return _tenant_hash(tenant_id) == self.tenant_hash


def _tenant_hash(tenant_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(tenant_id.encode(), digest_size=11).digest(), "big")


def anomaly_id(tenant_id: str, day: date, category: str, method: str) -> str:
    tenant = _tenant_hash(tenant_id)
    value = (
        (tenant >> 40) << 80
        | 8 << 76  # version 8
        | _CATEGORY_CODES[category] << 72
        | _METHOD_CODES[method] << 68
        | _ID_LAYOUT << 64
        | 0b10 << 62  # RFC variant
        | day.toordinal() << 40
        | tenant & _LOW_40
    )
    return str(uuid.UUID(int=value))


def parse_anomaly_id(value: str) -> AnomalyKey | None:
    """The key an id encodes, or None when the text is not an anomaly id of this service."""
    try:
        number = uuid.UUID(value).int
    except (ValueError, AttributeError, TypeError):
        return None
    categories = {code: name for name, code in _CATEGORY_CODES.items()}
    methods = {code: name for name, code in _METHOD_CODES.items()}
    category, method = categories.get(number >> 72 & 0xF), methods.get(number >> 68 & 0xF)
    ordinal = number >> 40 & ((1 << 22) - 1)
    if number >> 76 & 0xF != 8 or number >> 64 & 0xF != _ID_LAYOUT or number >> 62 & 0b11 != 0b10:
        return None
    # Only days the API accepts: a forged day outside them (year 1, or past 9999) would fail in date arithmetic.
    if category is None or method is None or not EARLIEST_DATE.toordinal() <= ordinal <= LATEST_DATE.toordinal():
        return None
    return AnomalyKey(
        day=date.fromordinal(ordinal),
        category=category,
        method=method,  # type: ignore[arg-type]
        tenant_hash=(number >> 80) << 40 | number & _LOW_40,
    )
