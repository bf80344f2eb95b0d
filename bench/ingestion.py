"""Benchmark 1: ingestion throughput, events per second in one process, against 0, 10 and 100 million stored events.

Two figures over the same kind of batches (5,000 mixed events, about 2.5% duplicates):
- the ingest path: `finops.costs.ingest.ingest` with the real rate card, given the decoded events;
- the `ingest_telemetry` Lambda handler: the same plus the API Gateway event, JSON body parsing, request
  validation, auth and the JSON reply.
Both are measured once per store size, each in a fresh database holding that many past events spread evenly over
the last 400 days (every day a re-send may be for), so the days a batch touches hold their share of the history:
what one batch costs must not grow with it. The re-sent known events of a batch are drawn from the last
RESEND_WINDOW_DAYS days of that history. A separate pass times the ingest path's phases (validation, rating,
insert, duplicate check) by wrapping them; that pass is not part of the throughput figures.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import dataset, env
from bench.events import Batch, BatchMaker
from bench.stats import median, percentile

TARGET_EVENTS_PER_SECOND = 100_000  # through `ingest()`
TARGET_HANDLER_EVENTS_PER_SECOND = 75_000
FLAT_WITHIN = 0.25  # the figures at every store size within 25% of each other
BATCH_SIZE = 5_000
PHASE_BATCHES = 8  # batches of the separate pass that times the phases
HISTORY_DAYS = 400  # MAX_EVENT_AGE_DAYS: the oldest day an event (or a re-send) may be for
RESEND_WINDOW_DAYS = 35  # LATE_TELEMETRY_LOOKBACK_DAYS: re-sends of known events are for days this recent
INGEST_CLAIMS = {"sub": "ingest-service", "roles": "[system]"}
DATABASE = "bench_ingest"


@dataclass
class Throughput:
    label: str
    batches: int
    events: int
    accepted: int
    duplicates: int
    rejected: int
    flagged: int
    target: int = TARGET_EVENTS_PER_SECOND
    seconds: list[float] = field(default_factory=list)
    duplicates_as_expected: bool = True

    @property
    def events_per_second(self) -> float:
        return self.events / sum(self.seconds)

    @property
    def batch_p50_ms(self) -> float:
        return median(self.seconds) * 1000

    @property
    def batch_p95_ms(self) -> float:
        return percentile(self.seconds, 95) * 1000

    @property
    def passed(self) -> bool:
        return self.events_per_second >= self.target and self.duplicates_as_expected


@dataclass
class StoreRun:
    """The figures against one store size."""

    stored_ids: int
    load_seconds: float
    parts: int  # active parts of usage_events when measured
    free_gb: tuple[float, float]  # free disk before the load and when loaded
    direct: Throughput
    handler: Throughput
    phases_ms: dict[str, float]  # median milliseconds per batch
    days_per_batch: float  # median distinct (UTC) days of a batch's events, re-sends included


@dataclass
class IngestionResult:
    runs: list[StoreRun]
    history_days: int = HISTORY_DAYS

    def spread(self, path: str) -> float:
        """Slowest over fastest events/s across store sizes, for `direct` or `handler` (1.0: flat)."""
        rates = [float(getattr(run, path).events_per_second) for run in self.runs]
        return min(rates) / max(rates)

    def flat(self, path: str) -> bool:
        return self.spread(path) >= 1 - FLAT_WITHIN


def make_batches(client: Any, tenants: int, count: int, *, seed: int = 2) -> list[Batch]:
    from finops.costs.rate_card import current_rate_card

    card = current_rate_card(client)
    now = datetime.now(UTC)
    kinds = {t: dataset.tenant_kinds(t, card, now.date()) for t in range(tenants)}
    # An even sample of the recent history (event_key is a hash of the id).
    known = [
        (r[0], r[1], r[2])
        for r in client.query(
            "SELECT tenant_id, event_id, event_time FROM usage_events "
            "WHERE tenant_id < {last:String} AND event_time >= {since:DateTime64(3, 'UTC')} "
            "ORDER BY event_key LIMIT 20000",
            parameters={"last": dataset.tenant_id(tenants), "since": now - timedelta(days=RESEND_WINDOW_DAYS)},
        ).result_rows
    ]
    maker = BatchMaker(kinds, known, now=now, seed=seed)
    return [maker.batch(BATCH_SIZE) for _ in range(count)]


def run_direct(client: Any, batches: list[Batch], *, warmup: int) -> Throughput:
    from finops.auth import INTERNAL
    from finops.costs.ingest import ingest
    from finops.costs.rate_card import current_rate_card

    result = Throughput("ingest path (`ingest()`)", len(batches) - warmup, 0, 0, 0, 0, 0)
    for number, batch in enumerate(batches):
        events = json.loads(batch.body)["events"]  # exactly what the handler hands over, decoded beforehand
        started = time.perf_counter()
        reply = ingest(client, current_rate_card(client), events, principal=INTERNAL)
        elapsed = time.perf_counter() - started
        if number < warmup:
            continue
        _count(result, len(events), reply.accepted, reply.duplicates, len(reply.rejected), len(reply.flagged))
        result.duplicates_as_expected &= reply.duplicates == batch.expected_duplicates
        result.seconds.append(elapsed)
    return result


def run_handler(batches: list[Batch], *, warmup: int) -> Throughput:
    from local.lambda_runtime import LambdaContext, decode_body, http_api_event, load_function

    module = load_function("ingest_telemetry")
    result = Throughput(
        "`ingest_telemetry` handler", len(batches) - warmup, 0, 0, 0, 0, 0, target=TARGET_HANDLER_EVENTS_PER_SECOND
    )
    for number, batch in enumerate(batches):
        event = http_api_event("POST", "/v1/analytics/finops/telemetry", body=batch.body, claims=INGEST_CLAIMS)
        context = LambdaContext(function_name="ingest_telemetry")
        with _quiet():
            started = time.perf_counter()
            response = module.lambda_handler(event, context)
            elapsed = time.perf_counter() - started
        if response["statusCode"] != 200:
            raise RuntimeError(f"ingest_telemetry answered {response['statusCode']}: {response.get('body', '')[:500]}")
        if number < warmup:
            continue
        reply = decode_body(response)
        _count(
            result,
            len(batch.events),
            reply["accepted"],
            reply["duplicates"],
            len(reply["rejected"]),
            len(reply["flagged"]),
        )
        result.duplicates_as_expected &= reply["duplicates"] == batch.expected_duplicates
        result.seconds.append(elapsed)
    return result


# The module-level helpers of finops.costs.ingest that `run_phases` times; `insert_rated_batch` calls
# `settle_copies`, whose time is taken out of the insert's.
PHASES = {
    "parse_batch": "validation (pydantic, whole batch)",
    "rate_batch": "rating",
    "insert_rated_batch": "insert (Arrow)",
    "settle_copies": "duplicate check (after the insert)",
}


def run_phases(client: Any, batches: list[Batch]) -> dict[str, float]:
    """Median milliseconds per batch in each phase of `ingest()`, by wrapping its module-level helpers (a helper
    the layer no longer has is left out)."""
    from finops.auth import INTERNAL
    from finops.costs import ingest as ingest_module
    from finops.costs.rate_card import current_rate_card

    spent: dict[str, float] = defaultdict(float)
    per_batch: dict[str, list[float]] = defaultdict(list)
    names = {name: label for name, label in PHASES.items() if hasattr(ingest_module, name)}
    originals = {name: getattr(ingest_module, name) for name in names}
    try:
        for name, label in names.items():
            setattr(ingest_module, name, _timed(originals[name], label, spent))
        for batch in batches:
            spent.clear()
            events = json.loads(batch.body)["events"]
            started = time.perf_counter()
            ingest_module.ingest(client, current_rate_card(client), events, principal=INTERNAL)
            total = time.perf_counter() - started
            if "insert_rated_batch" in names and "settle_copies" in names:
                spent[PHASES["insert_rated_batch"]] -= spent[PHASES["settle_copies"]]  # nested: count it once
            for label in names.values():
                per_batch[label].append(spent[label])
            per_batch["other"].append(total - sum(spent[label] for label in names.values()))
            per_batch["total"].append(total)
    finally:
        for name, original in originals.items():
            setattr(ingest_module, name, original)
    return {label: median(values) * 1000 for label, values in per_batch.items()}


def free_disk_gb() -> float:
    return shutil.disk_usage(env.DATA_DIR).free / 1e9


def run_store(*, stored_ids: int, tenants: int, batches: int, handler_batches: int, log: Any = print) -> StoreRun:
    """Load `stored_ids` past events into a fresh database, measure both paths and the phases, drop it."""
    before = free_disk_gb()
    client = env.create_database(DATABASE)
    try:
        return _measure_store(client, stored_ids, tenants, batches, handler_batches, before, log)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
        log(f"ingestion: database dropped, free disk {free_disk_gb():.0f} GB")


def _measure_store(
    client: Any, stored_ids: int, tenants: int, batches: int, handler_batches: int, before: float, log: Any
) -> StoreRun:
    from finops.costs.rate_card import current_rate_card

    dataset.create_kinds_table(
        client, current_rate_card(client), tenants=tenants, events_per_day=1, day=datetime.now(UTC).date()
    )
    load_seconds = 0.0
    if stored_ids:
        log(f"ingestion: storing {stored_ids:,} past events over {HISTORY_DAYS} days (free disk {before:.0f} GB)")
        end_ms = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000)
        load_seconds = dataset.load_history(
            client, events=stored_ids, tenants=tenants, days=HISTORY_DAYS, end_ms=end_ms
        )
        waited = dataset.wait_for_merges(client)
        log(
            f"ingestion: stored in {load_seconds:.0f} s ({stored_ids / load_seconds:,.0f} rows/s), merges {waited:.0f} s"
        )
    loaded = free_disk_gb()
    stored, parts = dataset.table_stats(client, "usage_events")
    warmup = 2
    count = batches + handler_batches + 2 * warmup + PHASE_BATCHES
    log(f"ingestion [{stored:,} stored]: preparing {count} batches of {BATCH_SIZE:,} events")
    all_batches = make_batches(client, tenants, count)
    days = median([float(len({e["timestamp"][:10] for e in b.events})) for b in all_batches])
    direct = run_direct(client, all_batches[: batches + warmup], warmup=warmup)
    log(
        f"ingestion [{stored:,} stored]: ingest path {direct.events_per_second:,.0f} events/s "
        f"(batch p50 {direct.batch_p50_ms:.0f} ms)"
    )
    dataset.wait_for_merges(client)
    handler = run_handler(all_batches[batches + warmup : batches + handler_batches + 2 * warmup], warmup=warmup)
    log(
        f"ingestion [{stored:,} stored]: handler {handler.events_per_second:,.0f} events/s "
        f"(batch p50 {handler.batch_p50_ms:.0f} ms)"
    )
    phases = run_phases(client, all_batches[-PHASE_BATCHES:])
    log(f"ingestion [{stored:,} stored]: phases " + ", ".join(f"{k} {v:.0f} ms" for k, v in phases.items()))
    return StoreRun(
        stored_ids=stored,
        load_seconds=load_seconds,
        parts=parts,
        free_gb=(before, loaded),
        direct=direct,
        handler=handler,
        phases_ms=phases,
        days_per_batch=days,
    )


def run(
    *, stored_sizes: tuple[int, ...], tenants: int, batches: int, handler_batches: int, log: Any = print
) -> IngestionResult:
    return IngestionResult(
        [
            run_store(stored_ids=size, tenants=tenants, batches=batches, handler_batches=handler_batches, log=log)
            for size in stored_sizes
        ]
    )


def _count(result: Throughput, events: int, accepted: int, duplicates: int, rejected: int, flagged: int) -> None:
    result.events += events
    result.accepted += accepted
    result.duplicates += duplicates
    result.rejected += rejected
    result.flagged += flagged


def _timed(function: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return wrapper


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Powertools prints one EMF metrics line per invocation to stdout; keep it out of the bench output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
