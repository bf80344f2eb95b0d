"""The FOCUS 1.0 specification's rules, as a checker of FOCUS CSV files: the judge of the export's conformance.

Why our own: the `focus-validator` package (2.2.1) carries only the 0.5 and pre-release 1.0 rule sets and rejects
the official 1.0 sample data. The column table below is transcribed from the specification's column definitions
(FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.0, specification/columns/*.md, CC BY 4.0): feature level,
whether nulls are allowed, data type and allowed values; the attribute rules (specification/attributes/*.md) are in
`violations`: date/time, numeric, currency code and key-value formats, null handling, column naming and order; and
the cross-column rules a file can be checked for on its own (charge periods, pricing columns by charge category,
ChargeFrequency of purchases, ListCost of credits).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime

NULL = "NULL"


@dataclass(frozen=True)
class Column:
    level: str  # Mandatory, Recommended or Conditional
    nullable: bool
    kind: str  # String, Decimal, Date/Time, JSON
    allowed: tuple[str, ...] = ()
    currency: bool = False


M, R, C = "Mandatory", "Recommended", "Conditional"
S, D, T, J = "String", "Decimal", "Date/Time", "JSON"
SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media", "Migration",
    "Mobile", "Networking", "Security", "Storage", "Web", "Other",
)  # fmt: skip
COLUMNS: dict[str, Column] = {
    "AvailabilityZone": Column(R, True, S),
    "BilledCost": Column(M, False, D),
    "BillingAccountId": Column(M, False, S),
    "BillingAccountName": Column(M, True, S),
    "BillingCurrency": Column(M, False, S, currency=True),
    "BillingPeriodEnd": Column(M, False, T),
    "BillingPeriodStart": Column(M, False, T),
    "ChargeCategory": Column(M, False, S, ("Usage", "Purchase", "Tax", "Credit", "Adjustment")),
    "ChargeClass": Column(M, True, S, ("Correction",)),
    "ChargeDescription": Column(M, True, S),
    "ChargeFrequency": Column(R, False, S, ("One-Time", "Recurring", "Usage-Based")),
    "ChargePeriodEnd": Column(M, False, T),
    "ChargePeriodStart": Column(M, False, T),
    "CommitmentDiscountCategory": Column(C, True, S, ("Spend", "Usage")),
    "CommitmentDiscountId": Column(C, True, S),
    "CommitmentDiscountName": Column(C, True, S),
    "CommitmentDiscountStatus": Column(C, True, S, ("Used", "Unused")),
    "CommitmentDiscountType": Column(C, True, S),
    "ConsumedQuantity": Column(C, True, D),
    "ConsumedUnit": Column(C, True, S),
    "ContractedCost": Column(M, False, D),
    "ContractedUnitPrice": Column(C, True, D),
    "EffectiveCost": Column(M, False, D),
    "InvoiceIssuerName": Column(M, False, S),
    "ListCost": Column(M, False, D),
    "ListUnitPrice": Column(C, True, D),
    "PricingCategory": Column(C, True, S, ("Standard", "Dynamic", "Committed", "Other")),
    "PricingQuantity": Column(M, True, D),
    "PricingUnit": Column(M, True, S),
    "ProviderName": Column(M, False, S),
    "PublisherName": Column(M, False, S),
    "RegionId": Column(C, True, S),
    "RegionName": Column(C, True, S),
    "ResourceId": Column(C, True, S),
    "ResourceName": Column(C, True, S),
    "ResourceType": Column(C, True, S),
    "ServiceCategory": Column(M, False, S, SERVICE_CATEGORIES),
    "ServiceName": Column(M, False, S),
    "SkuId": Column(C, True, S),
    "SkuPriceId": Column(C, True, S),
    "SubAccountId": Column(C, True, S),
    "SubAccountName": Column(C, True, S),
    "Tags": Column(C, True, J),
}
MANDATORY = frozenset(name for name, column in COLUMNS.items() if column.level == M)
# Date/Time Format: extended ISO 8601 in UTC, `YYYY-MM-DDTHH:mm:ssZ`.
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# Numeric Format: an integer, a decimal or E notation; a sign only for negatives, and in E only before a negative n.
NUMBER = re.compile(r"^-?(\d+(\.\d+)?|\.\d+)(E-?\d+)?$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
CUSTOM = re.compile(r"^x_[A-Za-z0-9_]+$")


def violations(text: str, *, limit: int = 50) -> list[str]:
    """What in a FOCUS 1.0 CSV file (nulls as the bare token NULL) breaks the specification; empty when nothing."""
    rows = list(csv.reader(io.StringIO(text)))
    header, data = rows[0], rows[1:]
    found = [f"missing mandatory column {name}" for name in sorted(MANDATORY - set(header))]
    for name in header:
        if name not in COLUMNS and not CUSTOM.match(name):
            found.append(f"column {name}: neither a FOCUS 1.0 column nor x_-prefixed")
        if name in COLUMNS and not PASCAL_CASE.match(name):
            found.append(f"column {name}: not PascalCase")
    positions = [i for i, name in enumerate(header) if CUSTOM.match(name)]
    if positions and any(header[i] in COLUMNS for i in range(positions[0], len(header))):
        found.append("custom columns are mixed with FOCUS columns (they come after all of them)")
    for line, values in enumerate(data, start=2):
        if len(values) != len(header):
            found.append(f"line {line}: {len(values)} fields for {len(header)} columns")
            continue
        row = dict(zip(header, values, strict=True))
        found += [f"line {line}: {problem}" for problem in _row_violations(row)]
        if len(found) >= limit:
            break
    return found[:limit]


def _row_violations(row: dict[str, str]) -> list[str]:
    found = []
    for name, value in row.items():
        column = COLUMNS.get(name)
        if value == "":
            found.append(f"{name}: an empty string (Null Handling: NULL, never an empty string)")
            continue
        if column is None or value == NULL:
            if column is not None and not column.nullable:
                found.append(f"{name}: null, where the column allows none")
            continue
        if column.kind == D and not NUMBER.match(value):
            found.append(f"{name}: {value!r} is not in the Numeric Format")
        if column.kind == T and not DATE_TIME.match(value):
            found.append(f"{name}: {value!r} is not in the Date/Time Format (YYYY-MM-DDTHH:mm:ssZ)")
        if column.allowed and value not in column.allowed:
            found.append(f"{name}: {value!r} is not one of the allowed values")
        if column.currency and not CURRENCY_CODE.match(value):
            found.append(f"{name}: {value!r} is not an ISO 4217 code")
        if column.kind == J and not _key_value(value):
            found.append(f"{name}: not a JSON object of scalar values (Key-Value Format)")
    return found + _cross_column_violations(row)


def _cross_column_violations(row: dict[str, str]) -> list[str]:
    found = []
    moments = {
        name: _moment(row.get(name, ""))
        for name in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
    }
    start, end = moments["ChargePeriodStart"], moments["ChargePeriodEnd"]
    billing_start, billing_end = moments["BillingPeriodStart"], moments["BillingPeriodEnd"]
    if start and end and not start < end:
        found.append("ChargePeriodEnd is not after ChargePeriodStart (an exclusive end)")
    if billing_start and billing_end and not billing_start < billing_end:
        found.append("BillingPeriodEnd is not after BillingPeriodStart (an exclusive end)")
    charge, correction = row.get("ChargeCategory"), row.get("ChargeClass") == "Correction"
    for name in ("PricingQuantity", "PricingUnit"):
        if name not in row:
            continue
        if charge in ("Usage", "Purchase") and not correction and row[name] == NULL:
            found.append(f"{name}: null for a {charge} charge")
        if charge == "Tax" and row[name] != NULL:
            found.append(f"{name}: not null for a Tax charge")
    if charge == "Purchase" and row.get("ChargeFrequency") == "Usage-Based":
        found.append("ChargeFrequency: Usage-Based for a Purchase")
    if charge == "Credit" and "ListCost" in row and row["ListCost"] != row.get("BilledCost"):
        found.append("ListCost: differs from BilledCost for a Credit")
    return found


def _moment(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if DATE_TIME.match(value) else None


def _key_value(value: str) -> bool:
    try:
        parsed = json.loads(value)
    except ValueError:
        return False
    return isinstance(parsed, dict) and all(not isinstance(v, dict | list) for v in parsed.values())
