"""FOCUS bills made up for the tests and the import benchmark: rows of a bill, a file of them, and a file of any
number of rows produced as it is read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta


def focus_rows(header: list[str], rows: list[dict[str, str]]) -> str:
    """A FOCUS CSV file of these rows (columns missing from a row are NULL)."""
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(_cell(row.get(name, "NULL")) for name in header))
    return "\r\n".join(lines) + "\r\n"


def _cell(value: str) -> str:
    return f'"{value.replace(chr(34), chr(34) * 2)}"' if any(c in value for c in ',"\r\n') else value


BILL_COLUMNS = [
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "BillingAccountId",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceCategory",
    "ServiceName",
    "RegionId",
    "SubAccountId",
    "PricingQuantity",
    "PricingUnit",
    "Tags",
]


def bill_row(
    day: date, cost: str, *, effective: str | None = None, currency: str = "USD", **columns: str
) -> dict[str, str]:
    """One daily usage row of a bill (defaults: AWS compute in billing account 111122223333)."""
    month = day.replace(day=1)
    return {
        "BilledCost": cost,
        "EffectiveCost": effective if effective is not None else cost,
        "ListCost": cost,
        "BillingCurrency": currency,
        "BillingAccountId": "111122223333",
        "BillingPeriodStart": f"{month.isoformat()}T00:00:00Z",
        "BillingPeriodEnd": f"{(month.replace(day=28) + timedelta(days=4)).replace(day=1).isoformat()}T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargePeriodStart": f"{day.isoformat()}T00:00:00Z",
        "ChargePeriodEnd": f"{day.isoformat()}T23:59:59Z",
        "ProviderName": "AWS",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "RegionId": "eu-west-1",
        "SubAccountId": "444455556666",
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        **columns,
    }


class GeneratedBill:
    """A FOCUS file of `rows` daily rows over September 2024, produced as it is read: no one holds a copy of it."""

    def __init__(self, rows: int) -> None:
        self.size = 0
        self._chunks = self._generate(rows)
        self._pending = b""

    def _generate(self, rows: int) -> Iterator[bytes]:
        yield (",".join(BILL_COLUMNS) + "\r\n").encode()
        for i in range(rows):
            day = date(2024, 9, 1) + timedelta(days=i % 30)
            row = bill_row(day, f"0.{i % 997:06d}01", SubAccountId=f"acct-{i % 50}", RegionId=f"region-{i % 7}")
            yield (",".join(row.get(c, "NULL") for c in BILL_COLUMNS) + "\r\n").encode()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        data, self._pending = (self._pending, b"") if size < 0 else (self._pending[:size], self._pending[size:])
        self.size += len(data)
        return data
