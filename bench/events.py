"""Realistic telemetry batches for the ingestion benchmark, as a producer would POST them.

Each batch mixes the five categories in the proportions of the tenants' usage (AI about 60%), tenants drawn
with the same skew as the generated data set, timestamps over the last three days, fresh UUID event ids,
some model names with a version suffix (priced by prefix), some events on a model missing from the card
(fallback, flagged), some with a caller-given `costUsd`, and a share of duplicates of three sorts:
repeats inside the batch, re-sends of the previous batch's events, and re-sends of events stored days ago.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.dataset import EXPORT_TYPES, Kind, tenant_id

REPEAT_IN_BATCH = 0.01
RESENT_FROM_PREVIOUS = 0.01
KNOWN_FROM_STORE = 0.005
CALLER_PRICED = 0.03
VERSIONED_MODEL = 0.1
_VERSION_SUFFIX = {"gpt-4o": "-2024-08-06", "gpt-4.1": "-2025-04-14", "claude-sonnet-4-5": "-20250929"}


@dataclass
class Batch:
    events: list[dict[str, Any]]
    body: str  # the JSON request body
    expected_duplicates: int


class BatchMaker:
    def __init__(
        self,
        kinds: dict[int, list[Kind]],
        known_ids: list[tuple[str, str, datetime]],
        *,
        now: datetime | None = None,
        seed: int = 2,
    ) -> None:
        self._rng = random.Random(seed)
        self._kinds = kinds
        self._tenants = len(kinds)
        self._known = known_ids
        self._now = now or datetime.now(UTC)
        self._previous: list[dict[str, Any]] = []

    def batch(self, size: int) -> Batch:
        rng = self._rng
        repeats = int(size * REPEAT_IN_BATCH)
        resent = int(size * RESENT_FROM_PREVIOUS) if self._previous else 0
        known = min(int(size * KNOWN_FROM_STORE), len(self._known))
        fresh = [self._event() for _ in range(size - repeats - resent - known)]
        events = list(fresh)
        events += [dict(rng.choice(fresh)) for _ in range(repeats)]
        events += [dict(e) for e in rng.sample(self._previous, resent)]
        for tenant, event_id, at in rng.sample(self._known, known):  # re-sent: the same event, days later
            event = self._event()
            event["tenantId"], event["eventId"] = tenant, event_id
            event["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
            events.append(event)
        rng.shuffle(events)
        self._previous = fresh
        return Batch(events=events, body=json.dumps({"events": events}), expected_duplicates=repeats + resent + known)

    def _event(self) -> dict[str, Any]:
        rng = self._rng
        tenant = min(int(self._tenants * rng.random() ** 2), self._tenants - 1)
        kind = rng.choice(self._kinds[tenant])
        at = self._now - timedelta(seconds=rng.uniform(1, 3 * 86_400))
        event: dict[str, Any] = {
            "eventId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "tenantId": tenant_id(tenant),
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "category": kind.category,
            "service": kind.service,
            "region": kind.region,
        }
        if kind.category == "AI":
            model = kind.model
            if model in _VERSION_SUFFIX and rng.random() < VERSIONED_MODEL:
                model += _VERSION_SUFFIX[model]
            event["model"] = model
            event["inputTokens"] = rng.randint(50, 3000)
            event["outputTokens"] = rng.randint(10, 800)
            if rng.random() < 0.4:
                event["cachedInputTokens"] = rng.randint(100, 2000)
        elif kind.category == "COMPUTE":
            event["vcpuSeconds"] = round(rng.uniform(0.05, 60), 3)
            event["memoryGbSeconds"] = round(rng.uniform(0.1, 120), 3)
        elif kind.category == "STORAGE":
            event["gbHours"] = round(rng.uniform(0.01, 10), 6)
        elif kind.category == "EXPORT":
            event["exportType"] = rng.choice(EXPORT_TYPES)
            event["exports"] = rng.randint(1, 3)
            event["bytes"] = rng.randint(10_000, 50_000_000)
        else:
            event["bytes"] = rng.randint(1_000, 100_000_000)
        if rng.random() < CALLER_PRICED:
            event["costUsd"] = round(rng.uniform(0.0001, 0.5), 6)
        return event
