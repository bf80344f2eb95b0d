"""Demo data for the local stack: tenant `demo`, 90 days of telemetry ending yesterday (UTC).

Every category is there (AI on several models, COMPUTE, STORAGE, EXPORT, EGRESS) over a few services and
regions, with what a cost explorer should make visible: weekdays busier than weekends, a gentle upward trend,
and one clear spike (AI at 3x, on a weekday about 20 days ago). About 4,300 events, loaded through the real
ingest path (so they are rated by the rate card) and aggregated into cost facts.

Loading is idempotent: event ids are derived from day, stream and slot, so a reload is answered as duplicates;
and a started server skips the load when the demo tenant already has aggregated days.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

TENANT = "demo"
DAYS = 90
SPIKE_DAYS_AGO = 20
SPIKE_FACTOR = 3.0
TREND = 0.30  # the last day is 30 % above the first, before the weekly pattern and noise
BATCH_SIZE = 5000  # the API's limit per request; the loader keeps to it too


@dataclass(frozen=True)
class Stream:
    """One source of usage: a category on a service and region, with its usage on an average weekday."""

    category: str
    service: str
    region: str
    usage: dict[str, float]  # event field -> daily amount (tokens, vCPU-seconds, bytes ...)
    slots: int  # events per day (the day's usage is split across them)
    attributes: dict[str, str] = field(default_factory=dict)  # model or exportType
    weekly: bool = True  # storage is capacity: no weekday pattern

    @property
    def key(self) -> str:
        label = self.attributes.get("model") or self.attributes.get("exportType") or self.service
        return f"{self.category.lower()}-{label}-{self.service}-{self.region}"


M = 1_000_000
GB = 1_000_000_000


def _ai(service: str, region: str, model: str, input_m: float, output_m: float, cached_m: float = 0) -> Stream:
    usage = {"inputTokens": input_m * M, "outputTokens": output_m * M}
    if cached_m:
        usage["cachedInputTokens"] = cached_m * M
    return Stream("AI", service, region, usage, 4, {"model": model})


STREAMS: tuple[Stream, ...] = (
    _ai("chat-assistant", "us-east-1", "gpt-4o", 18, 4.5, cached_m=4),
    _ai("chat-assistant", "us-east-1", "gpt-4o-mini", 60, 12),
    _ai("support-bot", "eu-west-1", "gpt-4o-mini", 25, 5),
    _ai("document-summarizer", "us-east-1", "claude-sonnet-4-5", 9, 1.5, cached_m=6),
    _ai("support-bot", "eu-west-1", "claude-haiku-4-5", 12, 2),
    _ai("semantic-search", "us-east-1", "text-embedding-3-small", 80, 0),
    Stream("COMPUTE", "api", "us-east-1", {"vcpuSeconds": 2.0 * M, "memoryGbSeconds": 8 * M}, 4),
    Stream("COMPUTE", "batch-jobs", "us-east-1", {"vcpuSeconds": 1.2 * M, "memoryGbSeconds": 4.8 * M}, 4),
    Stream("COMPUTE", "semantic-search", "eu-west-1", {"vcpuSeconds": 0.6 * M, "memoryGbSeconds": 2.4 * M}, 4),
    Stream("STORAGE", "data-lake", "us-east-1", {"gbHours": 480_000}, 1, weekly=False),
    Stream("STORAGE", "backups", "eu-west-1", {"gbHours": 120_000}, 1, weekly=False),
    Stream("EXPORT", "reporting", "us-east-1", {"exports": 400, "bytes": 20 * GB}, 2, {"exportType": "csv"}),
    Stream("EXPORT", "reporting", "us-east-1", {"exports": 50, "bytes": 60 * GB}, 2, {"exportType": "parquet"}),
    Stream("EGRESS", "cdn", "us-east-1", {"bytes": 120 * GB}, 2),
    Stream("EGRESS", "cdn", "eu-west-1", {"bytes": 60 * GB}, 2),
    Stream("EGRESS", "api", "ap-southeast-1", {"bytes": 25 * GB}, 2),
)
_INTEGER_FIELDS = {"inputTokens", "cachedInputTokens", "outputTokens", "exports", "bytes"}
_WEEKDAY_FACTOR = {5: 0.6, 6: 0.5}  # Saturday, Sunday; weekdays 1.0


@dataclass(frozen=True)
class DemoRange:
    start: date
    end: date
    loaded_now: bool
    events: int = 0


def demo_days(today: date) -> list[date]:
    """The 90 days ending yesterday."""
    return [today - timedelta(days=n) for n in range(DAYS, 0, -1)]


def spike_day(today: date) -> date:
    """About 20 days ago, on a weekday: a 3x spike on a quiet weekend would hardly stand out."""
    day = today - timedelta(days=SPIKE_DAYS_AGO)
    return day - timedelta(days=max(0, day.weekday() - 4))


def generate_events(today: date) -> list[dict[str, Any]]:
    """The demo telemetry, the same for the same `today` (ids, timestamps and amounts are deterministic)."""
    days = demo_days(today)
    return [event for index, day in enumerate(days) for event in _day_events(day, index, len(days), today)]


def _day_events(day: date, index: int, count: int, today: date) -> Iterator[dict[str, Any]]:
    trend = 1 + TREND * index / max(count - 1, 1)
    for stream in STREAMS:
        noise = random.Random(f"{day.isoformat()}|{stream.key}").uniform(0.94, 1.06)
        factor = trend * noise * (_WEEKDAY_FACTOR.get(day.weekday(), 1.0) if stream.weekly else 1.0)
        if stream.category == "AI" and day == spike_day(today):
            factor *= SPIKE_FACTOR
        for slot in range(stream.slots):
            hour = 1 + slot * 24 // stream.slots  # spread over the day, all before midnight
            event: dict[str, Any] = {
                "eventId": f"{TENANT}-{day:%Y%m%d}-{stream.key}-{slot}",
                "tenantId": TENANT,
                "timestamp": f"{day.isoformat()}T{hour:02d}:{(7 * slot + 13) % 60:02d}:00Z",
                "category": stream.category,
                "service": stream.service,
                "region": stream.region,
                **stream.attributes,
            }
            for name, daily in stream.usage.items():
                amount = daily * factor / stream.slots
                event[name] = round(amount) if name in _INTEGER_FIELDS else Decimal(f"{amount:.3f}")
            yield event


def loaded_range(client: Client, today: date) -> tuple[date, date] | None:
    """The aggregated days of the demo tenant, or None if the demo data was never (fully) loaded.

    Days are aggregated only after every event was ingested, so a load interrupted half way is loaded again
    (its events come back as duplicates) instead of being taken as done.
    """
    row = client.query(
        "SELECT count(), min(charge_period_start), max(charge_period_start) FROM cost_facts "
        "WHERE tenant_id = {tenant:String} AND charge_period_start < {today:Date}",
        parameters={"tenant": TENANT, "today": today},
    ).result_rows[0]
    return (row[1], row[2]) if row[0] else None


def ensure_demo_data(client: Client, *, today: date | None = None, log: Callable[[str], None] = print) -> DemoRange:
    """Load the demo data unless it is already there; returns its range of days."""
    from finops.auth import INTERNAL
    from finops.costs.aggregation import aggregate_days
    from finops.costs.ingest import ingest
    from finops.costs.rate_card import current_rate_card
    from finops.settings import get_settings

    now = datetime.now(UTC)
    today = today or now.date()
    if existing := loaded_range(client, today):
        return DemoRange(existing[0], existing[1], loaded_now=False)
    # The events are recorded as ingested just over one settle time ago, and the days aggregated with the
    # regular settle time: the facts then hold every demo event, and their cut-off is one that any later run
    # (the daily job, POST /aggregate) also reaches. Aggregating with no settle time instead would leave a
    # cut-off later than that of a run in the next minute, which would then count those events twice.
    settle = get_settings().aggregation_settle_seconds
    ingested_at = now - timedelta(seconds=settle + 1)
    events = generate_events(today)
    card = current_rate_card(client)
    accepted = duplicates = 0
    for start in range(0, len(events), BATCH_SIZE):
        result = ingest(client, card, events[start : start + BATCH_SIZE], principal=INTERNAL, now=ingested_at)
        if result.rejected:
            raise RuntimeError(f"demo data rejected by the ingest path: {result.rejected[:3]}")
        accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
    days = demo_days(today)
    aggregate_days(client, days, tenant_id=TENANT, settle_seconds=settle, now=now)
    log(f"demo data: {accepted} events ingested ({duplicates} already there), {len(days)} days aggregated")
    return DemoRange(days[0], days[-1], loaded_now=True, events=accepted)
