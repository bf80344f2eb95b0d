"""Usage telemetry events: the wire model of one event, what makes an event one event, and the validation of a
batch (the endpoint's request and reply are finops.costs.models').

Events are validated into plain typed dictionaries keyed by their wire (camelCase) names, the whole batch in one
pydantic-core call: building a model object per event cost more than the rest of the ingest path. One bad event
is still rejected on its own, with its index and the reason naming the field and the rule, while the valid ones
in the same batch are kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from finops.models.common import PRINTABLE, REQUEST_CONFIG, Label, TenantId, Usd, UtcDateTime

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


@with_config(REQUEST_CONFIG)
class _Event(TypedDict):
    eventId: EventId
    tenantId: TenantId
    timestamp: UtcDateTime  # ISO 8601; UTC (a timestamp without an offset is read as UTC)
    service: Name
    region: Name
    costUsd: NotRequired[CallerCost | None]  # a cost the caller already knows; else the rate card prices it


@with_config(REQUEST_CONFIG)
class AiEvent(_Event):
    category: Literal["AI"]
    model: Model
    inputTokens: Tokens  # uncached input tokens
    outputTokens: Tokens
    cachedInputTokens: NotRequired[Tokens]  # input tokens read from a prompt cache


@with_config(REQUEST_CONFIG)
class ComputeEvent(_Event):
    category: Literal["COMPUTE"]
    vcpuSeconds: Quantity
    memoryGbSeconds: Quantity


@with_config(REQUEST_CONFIG)
class StorageEvent(_Event):
    category: Literal["STORAGE"]
    gbHours: Quantity


@with_config(REQUEST_CONFIG)
class ExportEvent(_Event):
    category: Literal["EXPORT"]
    exportType: Name
    exports: Exports
    bytes: Bytes


@with_config(REQUEST_CONFIG)
class EgressEvent(_Event):
    category: Literal["EGRESS"]
    bytes: Bytes


UsageEvent = Annotated[
    AiEvent | ComputeEvent | StorageEvent | ExportEvent | EgressEvent,
    Field(discriminator="category"),
]
EventIdentity = tuple[str, str, date]  # tenant, event id, UTC day: what makes an event one event


def event_identity(event: UsageEvent) -> EventIdentity:
    return (event["tenantId"], event["eventId"], event["timestamp"].date())


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
