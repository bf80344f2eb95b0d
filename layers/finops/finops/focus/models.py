"""Request parameters and the reply of a FOCUS import."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from finops.models.common import Reply

# Import totals reconcile a bill to its last decimal: exact decimal strings, not rounded JSON numbers.
ExactAmount = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json")]
# A column or tag name given as a parameter: FOCUS column ids are PascalCase, tag keys are free text.
ColumnName = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$", description="1 to 128 characters")
]
MAX_REPORTED_SKIPS = 100


class SkippedRow(Reply):
    line: int = Field(description="Line of the file where the row ends (the header is line 1)")
    column: str | None = Field(None, description="The column at fault, when one is")
    reason: str


class CurrencyTotals(Reply):
    currency: str
    rows: int
    billed_cost: ExactAmount = Field(description="Sum of BilledCost imported (exact)")
    effective_cost: ExactAmount = Field(description="Sum of EffectiveCost imported (exact)")


class SourceTotals(CurrencyTotals):
    source: str = Field(description="focus:<ProviderName>")


class ImportResult(Reply):
    import_id: str
    rows_read: int = Field(description="Data rows in the file (the header not counted)")
    rows_imported: int
    rows_skipped: int
    skipped: list[SkippedRow] = Field(description=f"The first {MAX_REPORTED_SKIPS} skipped rows with their reasons")
    totals: list[CurrencyTotals] = Field(description="What was imported, per billing currency")
    by_source: list[SourceTotals] = Field(description="What was imported, per provider and currency")
    tenants: list[str] = Field(description="Tenants whose cost the import changed")
    slices: int = Field(
        description="Bill slices (tenant scope, provider, billing account, sub account, billing period) replaced"
    )
