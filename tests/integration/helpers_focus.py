"""Calling the FOCUS import and reading imported cost back, for the FOCUS and currency tests."""

from __future__ import annotations

import base64
import gzip as gzip_module
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from finops.costs.queries import Metric, effective_rows
from local.lambda_runtime import ROOT, LambdaContext, decode_body, http_api_event, load_function
from tests.conftest import claims

IMPORTS = "/v1/analytics/finops/imports/focus"
EXCHANGE_RATES = "/v1/analytics/finops/exchange-rates"
SAMPLE = ROOT / "tests" / "data" / "focus-1.0-sample.csv"
SYSTEM = claims(None, "system")
# The sample's totals, summed by hand from the file (tests/data/README.md).
SAMPLE_BILLED = Decimal("20.52022672899")
SAMPLE_EFFECTIVE = Decimal("14.97651418586")


def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def import_focus(
    body: str | bytes,
    *,
    auth: dict[str, Any] | None = SYSTEM,
    gzip: bool = False,
    content_type: str = "text/csv",
    **query: str,
) -> tuple[int, Any]:
    """POST a FOCUS file to the import handler, as API Gateway would pass it (a gzip body base64-encoded)."""
    raw = body.encode() if isinstance(body, str) else body
    if gzip:
        raw = gzip_module.compress(raw)
    binary = gzip or not _is_utf8(raw)
    event = http_api_event(
        "POST",
        IMPORTS,
        query=query or None,
        body=base64.b64encode(raw).decode() if binary else raw.decode(),
        headers={"content-type": content_type, **({"content-encoding": "gzip"} if gzip else {})},
        claims=auth,
    )
    event["isBase64Encoded"] = binary
    response = load_function("import_focus").lambda_handler(event, LambdaContext(function_name="import_focus"))
    return response["statusCode"], decode_body(response)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def publish_rates(api: Any, *rates: tuple[str, str, str]) -> None:
    """Publish (currency, effectiveFrom, usdPerUnit) rates as system."""
    body = {
        "source": "test rates",
        "rates": [{"currency": c, "effectiveFrom": d, "usdPerUnit": r} for c, d, r in rates],
    }
    status, reply, _ = api("publish_exchange_rates", "POST", EXCHANGE_RATES, auth=SYSTEM, body=body)
    assert status == 200, reply


def exact_totals(
    client: Any,
    tenants: list[str],
    start: date,
    end: date,
    *,
    metric: Metric = "effective",
    currency: str = "USD",
    group_by: str | None = None,
) -> dict[str, Decimal]:
    """Exact sums of the effective cost rows (billed, effective and the reported figure), optionally per value of a
    column: what every cost endpoint reads, without the reply's rounding to micro-units."""
    rows_sql, params = effective_rows(tenants, start, end, metric=metric, currency=currency)
    key = f"toString({group_by})" if group_by else "''"
    result = client.query(
        f"SELECT {key}, sum(billed_cost), sum(effective_cost), sum(reported_cost) FROM ({rows_sql}) GROUP BY 1",
        parameters=params,
    ).result_rows
    totals: dict[str, Decimal] = {}
    for group, billed, effective, reported in result:
        prefix = f"{group}:" if group_by else ""
        totals[f"{prefix}billed"] = billed
        totals[f"{prefix}effective"] = effective
        totals[f"{prefix}reported"] = reported
    return totals


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
