"""Exporting a tenant's cost as FOCUS 1.0: one row per day and dimension (category, subcategory, model, region,
service, source, charge category, billing currency, pricing unit), in each row's billing currency.

Columns: every FOCUS 1.0 column a provider must always give (Mandatory), the conditional ones this service knows
(RegionId, SubAccountId) and ChargeFrequency (Recommended), then our own, prefixed `x_` as the specification asks
for custom columns. Values follow its formats: date/times `YYYY-MM-DDTHH:mm:ssZ`, charge and billing periods as
half-open intervals, decimals without exponent or `+`, nulls as the bare token NULL (as the FOCUS sample data).

What each column holds (README, "Exporting FOCUS"): SubAccountId and BillingAccountId are the tenant; ProviderName,
PublisherName and InvoiceIssuerName are the provider an imported row came from, or FOCUS_PROVIDER_NAME for the
platform's own rows; BilledCost, EffectiveCost and ListCost as stored (for telemetry the three are its rated cost,
ListCost its list price from the rate card); ContractedCost is BilledCost (no contracted prices are kept);
PricingQuantity and PricingUnit are the meter's (telemetry) or the bill's.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from finops.costs.queries import TELEMETRY_SOURCE, CostScope
from finops.errors import InvalidRequest
from finops.focus import spec
from finops.focus.store import ExportRow, export_rows

MAX_EXPORT_ROWS = 10_000  # a Lambda reply holds at most 6 MB: about this many rows
NULL = "NULL"

FOCUS_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
)
CUSTOM_COLUMNS: tuple[str, ...] = (spec.X_SOURCE, spec.X_CATEGORY, spec.X_SUBCATEGORY, spec.X_MODEL)
COLUMNS = FOCUS_COLUMNS + CUSTOM_COLUMNS

# Our meters' pricing units in the FOCUS unit format (`<quantity> <plural-units>`, `<unit>-<plural-time-units>`).
FOCUS_UNITS: dict[str, str] = {
    "1M tokens": "1000000 Tokens",
    "vCPU-second": "vCPU-Seconds",
    "GB-second": "GB-Seconds",
    "GB-hour": "GB-Hours",
    "export": "Exports",
    "GB": "GB",
}


def export_focus(client: Client, scope: CostScope, *, provider_name: str) -> str:
    """The tenant's cost over the scope's days as a FOCUS 1.0 CSV file (RFC 4180, CRLF line ends)."""
    rows = export_rows(client, scope, limit=MAX_EXPORT_ROWS + 1)
    if len(rows) > MAX_EXPORT_ROWS:
        raise InvalidRequest(
            f"the export would have more than {MAX_EXPORT_ROWS} rows; ask for fewer days at a time", field="to"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(_focus_row(scope.tenant_id, row, provider_name) for row in rows)
    return out.getvalue()


def focus_attachment(scope: CostScope) -> str:
    tenant = re.sub(r"[^A-Za-z0-9._-]", "_", scope.tenant_id)
    return f'attachment; filename="focus-{tenant}-{scope.start.isoformat()}-{scope.end.isoformat()}.csv"'


def _focus_row(tenant: str, row: ExportRow, platform: str) -> list[str]:
    provider = row.source.removeprefix("focus:") if row.source != TELEMETRY_SOURCE else platform
    day, category, subcategory, charge = row.day, row.category, row.subcategory, row.charge_category
    month = day.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    focus_category = subcategory if subcategory in spec.SERVICE_CATEGORIES else spec.FOCUS_FROM_CATEGORY[category]
    priced = charge in ("Usage", "Purchase")  # FOCUS: pricing columns must be null for the other charge categories
    focus_unit = FOCUS_UNITS.get(row.pricing_unit, row.pricing_unit)
    values = {
        "BilledCost": _number(row.billed_cost),
        "BillingAccountId": tenant,
        "BillingAccountName": tenant,
        "BillingCurrency": row.currency,
        "BillingPeriodEnd": _moment(next_month),
        "BillingPeriodStart": _moment(month),
        "ChargeCategory": charge,
        "ChargeClass": NULL,
        "ChargeDescription": _description(category, subcategory, row.model, row.service),
        "ChargeFrequency": "Usage-Based" if charge == "Usage" else "One-Time",
        "ChargePeriodEnd": _moment(day + timedelta(days=1)),
        "ChargePeriodStart": _moment(day),
        "ContractedCost": _number(row.billed_cost),
        "EffectiveCost": _number(row.effective_cost),
        "InvoiceIssuerName": provider,
        "ListCost": _number(row.list_cost),
        "PricingQuantity": _number(row.pricing_quantity) if priced and focus_unit else NULL,
        "PricingUnit": focus_unit if priced and focus_unit else NULL,
        "ProviderName": provider,
        "PublisherName": provider,
        "RegionId": row.region or NULL,
        "ServiceCategory": focus_category,
        "ServiceName": row.service,
        "SubAccountId": tenant,
        spec.X_SOURCE: row.source,
        spec.X_CATEGORY: category,
        spec.X_SUBCATEGORY: subcategory or NULL,
        spec.X_MODEL: row.model or NULL,
    }
    return [values[column] for column in COLUMNS]


def _moment(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _number(value: Decimal) -> str:
    """A FOCUS decimal: plain notation, no `+`, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _description(category: str, subcategory: str, model: str, service: str) -> str:
    parts = [part for part in (subcategory, model) if part]
    return f"{service}: {category}" + (f" ({', '.join(parts)})" if parts else "")
