"""Usage telemetry events: the request and reply of the ingest endpoint and the per-event validation.

The batch is validated event by event so that one bad event is rejected with its index and reason while
the valid ones in the same batch are kept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from finops.models.common import Category, Label, Reply, RequestBody, TenantId, Usd, UtcDateTime

# Per-event maxima: generous for one event (a pre-aggregated usage record included), far below what makes a
# cost no column can hold. The README's limits table lists them.
MAX_TOKENS = 10**9  # a thousand times the largest context window
MAX_BYTES = 10**14  # 100 TB
MAX_EXPORTS = 10**6
MAX_QUANTITY = Decimal(10**10)  # vCPU-seconds, GB-seconds or GB-hours: 10^10 vCPU-seconds is 317 vCPU-years
MAX_EVENT_COST_USD = Decimal(10**9)

Name = Label
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True, description="0 to 10^9 tokens")]
Bytes = Annotated[int, Field(ge=0, le=MAX_BYTES, strict=True, description="0 to 10^14 bytes")]
Exports = Annotated[int, Field(ge=0, le=MAX_EXPORTS, strict=True, description="0 to 10^6 exports")]
Quantity = Annotated[
    Decimal,
    Field(ge=0, le=MAX_QUANTITY, decimal_places=9, allow_inf_nan=False, description="0 to 10^10, 9 decimal places"),
]


class _Event(RequestBody):
    model_config = ConfigDict(frozen=True)

    event_id: str = Field(
        alias="eventId",
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Unique id (no control characters); re-sending it is safe",
    )
    tenant_id: TenantId = Field(alias="tenantId")
    timestamp: UtcDateTime = Field(description="ISO 8601; UTC (a timestamp without an offset is read as UTC)")
    service: Name
    region: Name
    cost_usd: Annotated[Usd, Field(le=MAX_EVENT_COST_USD)] | None = Field(
        None,
        alias="costUsd",
        description="A cost the caller already knows (USD, 0 to 10^9); without it the rate card prices the usage",
    )


class AiEvent(_Event):
    category: Literal[Category.AI]
    model: Name
    input_tokens: Tokens = Field(alias="inputTokens", description="Uncached input tokens")
    output_tokens: Tokens = Field(alias="outputTokens")
    cached_input_tokens: Tokens = Field(
        0, alias="cachedInputTokens", description="Input tokens read from a prompt cache"
    )

    @field_validator("model")
    @classmethod
    def _normalise_model(cls, value: str) -> str:
        return value.lower()


class ComputeEvent(_Event):
    category: Literal[Category.COMPUTE]
    vcpu_seconds: Quantity = Field(alias="vcpuSeconds")
    memory_gb_seconds: Quantity = Field(alias="memoryGbSeconds")


class StorageEvent(_Event):
    category: Literal[Category.STORAGE]
    gb_hours: Quantity = Field(alias="gbHours")


class ExportEvent(_Event):
    category: Literal[Category.EXPORT]
    export_type: Name = Field(alias="exportType")
    exports: Exports
    bytes: Bytes


class EgressEvent(_Event):
    category: Literal[Category.EGRESS]
    bytes: Bytes


UsageEvent = Annotated[
    AiEvent | ComputeEvent | StorageEvent | ExportEvent | EgressEvent,
    Field(discriminator="category"),
]
_event_adapter: TypeAdapter[UsageEvent] = TypeAdapter(UsageEvent)  # type: ignore[arg-type]


def parse_event(raw: Any) -> UsageEvent:
    """Validate one event; raises ValueError with a readable reason naming the field and the rule."""
    try:
        return _event_adapter.validate_python(raw)
    except ValidationError as error:
        raise ValueError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in item["loc"] if p not in [c.value for c in Category]) or "event"
        parts.append(f"{loc}: {item['msg']}")
    return "; ".join(parts)


class TelemetryBatch(RequestBody):
    events: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=5000,
        description=(
            "Usage events. Common fields: eventId, tenantId, timestamp, category (AI, COMPUTE, STORAGE, EXPORT, "
            "EGRESS), service, region, optional costUsd. AI: model, inputTokens, outputTokens, optional "
            "cachedInputTokens. COMPUTE: vcpuSeconds, memoryGbSeconds. STORAGE: gbHours. EXPORT: exportType, "
            "exports, bytes. EGRESS: bytes. Each event is validated on its own."
        ),
    )


class RejectedEvent(Reply):
    index: int
    error: str


class FlaggedEvent(Reply):
    index: int
    warning: str


class IngestResult(Reply):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]
    flagged: list[FlaggedEvent] = Field(
        default_factory=list,
        description="Accepted events priced by a fallback (for example a model missing from the rate card)",
    )
    tenants: list[str] = Field(default_factory=list, exclude=True)  # whose spend changed; not part of the reply
