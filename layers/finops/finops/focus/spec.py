"""What the import and the export take from the FOCUS 1.0 specification (FinOps Open Cost and Usage Specification,
https://focus.finops.org, CC BY 4.0): column names, allowed values, and how FOCUS service categories map to ours.

The export writes FOCUS 1.0: its mandatory columns, the conditional ones this service can fill, and `x_` columns of
its own (the specification's rule for custom columns). The import reads 1.0 files and the columns that 1.1 and 1.2
kept; a header it cannot use is refused as a whole, a row it cannot use is skipped with its reason.
"""

from __future__ import annotations

from finops.models.common import CHARGE_CATEGORIES, Category

FOCUS_VERSION = "1.0"

# FOCUS 1.0 ServiceCategory allowed values.
SERVICE_CATEGORIES: tuple[str, ...] = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
CHARGE_FREQUENCIES: tuple[str, ...] = ("One-Time", "Recurring", "Usage-Based")

# Import: a FOCUS service category lands in one of ours; the FOCUS name is kept as the subcategory. Networking is
# where providers bill data transfer (our EGRESS); what is none of the four is OTHER.
CATEGORY_FROM_FOCUS: dict[str, Category] = {
    "AI and Machine Learning": Category.AI,
    "Compute": Category.COMPUTE,
    "Storage": Category.STORAGE,
    "Networking": Category.EGRESS,
}
# Export: the FOCUS service category of one of ours (when the subcategory is not already a FOCUS category, as it is
# for imported rows). Report exports are data delivered to tenants: Analytics.
FOCUS_FROM_CATEGORY: dict[str, str] = {
    Category.AI: "AI and Machine Learning",
    Category.COMPUTE: "Compute",
    Category.STORAGE: "Storage",
    Category.EXPORT: "Analytics",
    Category.EGRESS: "Networking",
    Category.OTHER: "Other",
}

# Case-insensitive lookups: providers differ in casing (the FOCUS sample says `Usage-based` where the specification
# says `Usage-Based`); a value is stored in the specification's spelling.
CHARGE_CATEGORY_BY_LOWER = {value.lower(): value for value in CHARGE_CATEGORIES}
SERVICE_CATEGORY_BY_LOWER = {value.lower(): value for value in SERVICE_CATEGORIES}

# Columns the import needs (a file without one of them is refused before anything is stored).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "BillingAccountId",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargePeriodStart",
    "ProviderName",
    "ServiceCategory",
    "ServiceName",
)
# Our own columns in an export, read back by an import (so an export re-imports without losing them).
X_MODEL = "x_Model"
X_CATEGORY = "x_ServiceCategory"
X_SUBCATEGORY = "x_ServiceSubcategory"
X_SOURCE = "x_Source"
