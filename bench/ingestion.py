"""Benchmark 1: ingestion throughput, events per second in one process.

Two figures over the same kind of batches (5,000 mixed events, about 2.5% duplicates):
- the ingest path: `finops.costs.ingest.ingest` with the real rate card, given the decoded events;
- the `ingest_telemetry` Lambda handler: the same plus the API Gateway event, JSON body parsing, request
  validation, auth and the JSON reply.
The database already holds the aggregation benchmark's 10 million events, so the duplicate lookup runs
against a realistic store. A separate pass times the ingest path's phases (validation,
duplicate lookup, rating, insert) by wrapping them; that pass is not part of the throughput figures.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import dataset
from bench.events import Batch, BatchMaker
from bench.stats import median, percentile

TARGET_EVENTS_PER_SECOND = 100_000
BATCH_SIZE = 5_000
PHASE_BATCHES = 8  # batches of the separate pass that times the phases
INGEST_CLAIMS = {"sub": "ingest-service", "roles": "[system]"}


@dataclass
class Throughput:
    label: str
    batches: int
    events: int
    accepted: int
    duplicates: int
    rejected: int
    flagged: int
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
        return self.events_per_second >= TARGET_EVENTS_PER_SECOND


@dataclass
class IngestionResult:
    direct: Throughput
    handler: Throughput
    phases_ms: dict[str, float]  # median milliseconds per batch
    known_ids: int
    empty_store: Throughput | None = None  # the ingest path into an empty database
    empty_phases_ms: dict[str, float] | None = None


def make_batches(client: Any, tenants: int, count: int, *, seed: int = 2) -> list[Batch]:
    from finops.costs.rate_card import current_rate_card

    card = current_rate_card(client)
    today = datetime.now(UTC).date()
    kinds = {t: dataset.tenant_kinds(t, card, today) for t in range(tenants)}
    known = [
        (r[0], r[1], r[2])
        for r in client.query(
            "SELECT tenant_id, event_id, event_time FROM usage_events WHERE tenant_id < {last:String} LIMIT 20000",
            parameters={"last": dataset.tenant_id(tenants)},
        ).result_rows
    ]
    maker = BatchMaker(kinds, known, seed=seed)
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
    result = Throughput("`ingest_telemetry` handler", len(batches) - warmup, 0, 0, 0, 0, 0)
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


def run_phases(client: Any, batches: list[Batch]) -> dict[str, float]:
    """Median milliseconds per batch in each phase of `ingest()`, by wrapping its module-level helpers."""
    from finops.auth import INTERNAL
    from finops.costs import ingest as ingest_module
    from finops.costs.rate_card import current_rate_card

    spent: dict[str, float] = defaultdict(float)
    per_batch: dict[str, list[float]] = defaultdict(list)
    names = {
        "parse_batch": "validation (pydantic, whole batch)",
        "settle_copies": "duplicate check (after the insert)",
        "rate_batch": "rating",
        "insert_rated_batch": "insert (Arrow, with the duplicate check)",
    }
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
            for label in names.values():
                per_batch[label].append(spent[label])
            per_batch["other"].append(total - sum(spent[label] for label in names.values()))
            per_batch["total"].append(total)
    finally:
        for name, original in originals.items():
            setattr(ingest_module, name, original)
    return {label: median(values) * 1000 for label, values in per_batch.items()}


def run_empty_store(
    client: Any, *, tenants: int, batches: int, log: Any = print
) -> tuple[Throughput, dict[str, float]]:
    """The ingest path into an empty database (nothing stored yet for the duplicate lookup to scan), and its
    phases."""
    warmup = 2
    all_batches = make_batches(client, tenants, batches + warmup + PHASE_BATCHES, seed=1)
    result = run_direct(client, all_batches[: batches + warmup], warmup=warmup)
    result.label = "ingest path (`ingest()`), empty database"
    log(f"ingestion: ingest path into an empty database {result.events_per_second:,.0f} events/s")
    phases = run_phases(client, all_batches[-PHASE_BATCHES:])
    log("ingestion: phases (empty database) " + ", ".join(f"{k} {v:.0f} ms" for k, v in phases.items()))
    return result, phases


def run(
    client: Any,
    *,
    tenants: int,
    batches: int,
    handler_batches: int,
    empty_store: tuple[Throughput, dict[str, float]] | None = None,
    log: Any = print,
) -> IngestionResult:
    warmup = 2
    count = batches + handler_batches + 2 * warmup + PHASE_BATCHES
    log(f"ingestion: preparing {count} batches of {BATCH_SIZE:,} events")
    all_batches = make_batches(client, tenants, count)
    known = int(client.command("SELECT count() FROM usage_events") or 0)
    dataset.wait_for_merges(client)
    direct = run_direct(client, all_batches[: batches + warmup], warmup=warmup)
    log(f"ingestion: ingest path {direct.events_per_second:,.0f} events/s (batch p50 {direct.batch_p50_ms:.0f} ms)")
    dataset.wait_for_merges(client)
    handler = run_handler(all_batches[batches + warmup : batches + handler_batches + 2 * warmup], warmup=warmup)
    log(f"ingestion: handler {handler.events_per_second:,.0f} events/s (batch p50 {handler.batch_p50_ms:.0f} ms)")
    phases = run_phases(client, all_batches[-PHASE_BATCHES:])
    log("ingestion: phases " + ", ".join(f"{k} {v:.0f} ms" for k, v in phases.items()))
    return IngestionResult(
        direct=direct,
        handler=handler,
        phases_ms=phases,
        known_ids=known,
        empty_store=empty_store[0] if empty_store else None,
        empty_phases_ms=empty_store[1] if empty_store else None,
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
