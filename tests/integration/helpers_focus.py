"""Calling the FOCUS import and reading imported cost back, for the FOCUS and currency tests."""

from __future__ import annotations

import base64
import gzip as gzip_module
from datetime import date
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


def budget_status(api: Any, budget_id: str, auth: dict[str, Any]) -> dict[str, Any]:
    status, reply, _ = api(
        "get_budget_status",
        "GET",
        f"/api/ai-budget/finops/budgets/{budget_id}/status",
        auth=auth,
        path_parameters={"budget_id": budget_id},
    )
    assert status == 200, reply
    return dict(reply)
