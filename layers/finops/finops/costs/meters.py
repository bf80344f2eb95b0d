"""The meters usage is priced by: what each category measures, in which unit, and what keys its price.

A meter's name is the cost facts' subcategory. Quantities are stored in the meter's pricing unit
(for example tokens / 1,000,000), so a cost is always quantity x unit price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from finops.models.common import Category

PriceKeyField = Literal["model", "region", "export_type", "none"]

TOKENS_PER_PRICING_UNIT = Decimal(1_000_000)
BYTES_PER_GB = Decimal(1_000_000_000)  # decimal gigabytes, 10^9 bytes
ONE = Decimal(1)


@dataclass(frozen=True)
class Meter:
    name: str
    category: Category
    usage_field: str  # the event field holding the usage, in its natural unit
    pricing_unit: str
    natural_units_per_pricing_unit: Decimal
    price_key: PriceKeyField


METERS: tuple[Meter, ...] = (
    Meter("input_tokens", Category.AI, "input_tokens", "1M tokens", TOKENS_PER_PRICING_UNIT, "model"),
    Meter("cached_input_tokens", Category.AI, "cached_input_tokens", "1M tokens", TOKENS_PER_PRICING_UNIT, "model"),
    Meter("output_tokens", Category.AI, "output_tokens", "1M tokens", TOKENS_PER_PRICING_UNIT, "model"),
    Meter("vcpu_seconds", Category.COMPUTE, "vcpu_seconds", "vCPU-second", ONE, "none"),
    Meter("memory_gb_seconds", Category.COMPUTE, "memory_gb_seconds", "GB-second", ONE, "none"),
    Meter("gb_hours", Category.STORAGE, "gb_hours", "GB-hour", ONE, "none"),
    Meter("exports", Category.EXPORT, "exports", "export", ONE, "export_type"),
    Meter("export_gb", Category.EXPORT, "bytes", "GB", BYTES_PER_GB, "none"),
    Meter("egress_gb", Category.EGRESS, "bytes", "GB", BYTES_PER_GB, "region"),
)

METERS_BY_CATEGORY: dict[Category, tuple[Meter, ...]] = {
    category: tuple(m for m in METERS if m.category is category) for category in Category
}
METERS_BY_NAME: dict[str, Meter] = {m.name: m for m in METERS}
