"""Usage telemetry events: the request and reply of the ingest endpoint, and the validation of a batch.

Events are validated into plain typed dictionaries keyed by their wire (camelCase) names, the whole batch in one
pydantic-core call: building a model object per event cost more than the rest of the ingest path. One bad event
is still rejected on its own, with its index and the reason naming the field and the rule, while the valid ones
in the same batch are kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from finops.models.common import PRINTABLE, Label, Reply, RequestBody, TenantId, Usd, UtcDateTime

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
EventId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=PRINTABLE, description="Unique id; re-sending it is safe")
]
Model = Annotated[Label, AfterValidator(str.lower)]  # model names are matched case-insensitively
CallerCost = Annotated[Usd, Field(le=MAX_EVENT_COST_USD)]

# Exactly the documented names (a `tenant_id` key is an unknown key), surrounding spaces stripped.
_WIRE = ConfigDict(extra="forbid", str_strip_whitespace=True)


@with_config(_WIRE)
class _Event(TypedDict):
    eventId: EventId
    tenantId: TenantId
    timestamp: UtcDateTime  # ISO 8601; UTC (a timestamp without an offset is read as UTC)
    service: Name
    region: Name
    costUsd: NotRequired[CallerCost | None]  # a cost the caller already knows; else the rate card prices it


@with_config(_WIRE)
class AiEvent(_Event):
    category: Literal["AI"]
    model: Model
    inputTokens: Tokens  # uncached input tokens
    outputTokens: Tokens
    cachedInputTokens: NotRequired[Tokens]  # input tokens read from a prompt cache


@with_config(_WIRE)
class ComputeEvent(_Event):
    category: Literal["COMPUTE"]
    vcpuSeconds: Quantity
    memoryGbSeconds: Quantity


@with_config(_WIRE)
class StorageEvent(_Event):
    category: Literal["STORAGE"]
    gbHours: Quantity


@with_config(_WIRE)
class ExportEvent(_Event):
    category: Literal["EXPORT"]
    exportType: Name
    exports: Exports
    bytes: Bytes


@with_config(_WIRE)
class EgressEvent(_Event):
    category: Literal["EGRESS"]
    bytes: Bytes


UsageEvent = Annotated[
    AiEvent | ComputeEvent | StorageEvent | ExportEvent | EgressEvent,
    Field(discriminator="category"),
]
_event_adapter: TypeAdapter[UsageEvent] = TypeAdapter(UsageEvent)  # type: ignore[arg-type]
_batch_adapter: TypeAdapter[list[UsageEvent]] = TypeAdapter(list[UsageEvent])  # type: ignore[arg-type]
_CATEGORY_TAGS = {"AI", "COMPUTE", "STORAGE", "EXPORT", "EGRESS"}


def parse_event(raw: Any) -> UsageEvent:
    """Validate one event; raises ValueError with a readable reason naming the field and the rule."""
    try:
        return _event_adapter.validate_python(raw)
    except ValidationError as error:
        raise ValueError(_describe(error.errors(include_url=False, include_input=False))) from None


def parse_batch(raw_events: Sequence[Any]) -> tuple[list[tuple[int, UsageEvent]], dict[int, str]]:
    """Validate a batch in one call: the valid events with their index, and each invalid one's reason by index.
    A batch with invalid events is validated again without them (one more call, on the failure path only)."""
    try:
        return list(enumerate(_batch_adapter.validate_python(raw_events))), {}
    except ValidationError as error:
        problems: dict[int, list[Any]] = defaultdict(list)
        for item in error.errors(include_url=False, include_input=False):
            index, *loc = item["loc"]
            problems[int(index)].append({**item, "loc": tuple(loc)})
    kept = [i for i in range(len(raw_events)) if i not in problems]
    valid = _batch_adapter.validate_python([raw_events[i] for i in kept])
    return list(zip(kept, valid, strict=True)), {i: _describe(items) for i, items in problems.items()}


def _describe(errors: Sequence[Any]) -> str:
    parts = []
    for item in errors:
        loc = ".".join(str(p) for p in item["loc"] if p not in _CATEGORY_TAGS) or "event"
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
