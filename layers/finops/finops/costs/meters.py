"""The meters usage is priced by: what each category measures, in which unit, and what keys its price.

A meter's name is the cost facts' subcategory. Quantities are stored in the meter's pricing unit
(for example tokens / 1,000,000), so a cost is always quantity x unit price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from finops.models.common import Category

PriceKeyField = Literal["model", "region", "export_type", "none"]


@dataclass(frozen=True)
class Meter:
    name: str
    category: Category
    field: str  # the event field (wire name) holding the usage, in its natural unit
    pricing_unit: str
    # The pricing unit is 10^scale natural units (1M tokens: 6; a decimal GB: 9): a quantity in pricing units is
    # the usage shifted by that many decimal places, exactly.
    scale: int
    price_key: PriceKeyField


METERS: tuple[Meter, ...] = (
    Meter("input_tokens", Category.AI, "inputTokens", "1M tokens", 6, "model"),
    Meter("cached_input_tokens", Category.AI, "cachedInputTokens", "1M tokens", 6, "model"),
    Meter("output_tokens", Category.AI, "outputTokens", "1M tokens", 6, "model"),
    Meter("vcpu_seconds", Category.COMPUTE, "vcpuSeconds", "vCPU-second", 0, "none"),
    Meter("memory_gb_seconds", Category.COMPUTE, "memoryGbSeconds", "GB-second", 0, "none"),
    Meter("gb_hours", Category.STORAGE, "gbHours", "GB-hour", 0, "none"),
    Meter("exports", Category.EXPORT, "exports", "export", 0, "export_type"),
    Meter("export_gb", Category.EXPORT, "bytes", "GB", 9, "none"),
    Meter("egress_gb", Category.EGRESS, "bytes", "GB", 9, "region"),
)

METERS_BY_CATEGORY: dict[str, tuple[Meter, ...]] = {
    category.value: tuple(m for m in METERS if m.category is category) for category in Category
}
METERS_BY_NAME: dict[str, Meter] = {m.name: m for m in METERS}
