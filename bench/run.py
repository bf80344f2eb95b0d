"""`make bench`: the scale benchmarks of issue 2 section 8, written to bench/RESULTS.md.

    .venv/bin/python -m bench.run                 # the full run (35-65 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick         # small sizes, a smoke run (writes bench/data/RESULTS.quick.md)
    .venv/bin/python -m bench.run --only queries  # some of: cold-start, aggregation, ingestion, queries,
                                                  # budgets, analytics (bench/budgets.py, bench/analytics.py)
    .venv/bin/python -m bench.run --render        # rewrite the markdown from the last full run's saved figures
    .venv/bin/python -m bench.run --only queries --update
                                                  # re-measure some sections at full size into the last full run's
                                                  # figures and bench/RESULTS.md (which says what was re-measured)

Everything runs in this one process on the real chDB engine (one data directory under bench/data/, wiped at
the start), except the cold-start samples, which each need a fresh interpreter.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import env

BENCHMARKS = ("cold-start", "aggregation", "ingestion", "queries", "budgets", "analytics")
LOAD_KEY = "Load average (1 min) during each benchmark, min-max, this run's own work included"
# Each kind of run saves its figures in a file of its own, so a quick or partial run never replaces the figures
# bench/RESULTS.md is rendered from (`--render` reads the full run's).
SAVED = env.DATA_DIR / "results.pickle"


def saved_figures(*, quick: bool, partial: bool) -> Path:
    if quick:
        return env.DATA_DIR / "results.quick.pickle"
    return env.DATA_DIR / "results.partial.pickle" if partial else SAVED


@dataclass(frozen=True)
class Sizes:
    tenants: int
    days: int
    events_per_day: int  # the data set's daily volume (each tenant's share of it)
    aggregation_days: tuple[int, ...]  # raw events of the aggregated day, one run per size
    live_events: int  # raw events of today in the query data set
    stored_ids: tuple[int, ...]  # past events stored when ingestion is measured, one run per size
    ingest_batches: int
    handler_batches: int
    calls: int  # per endpoint and variant
    growth_calls: int  # per endpoint, tenant and range
    aggregation_runs: int
    cold_start_samples: int
    cold_start_functions: tuple[str, ...] | None  # None: every function


FULL = Sizes(
    tenants=1000,
    days=365,
    events_per_day=10_000_000,
    aggregation_days=(1_000_000, 10_000_000),
    live_events=5_000_000,
    stored_ids=(0, 10_000_000, 100_000_000),
    ingest_batches=60,
    handler_batches=30,
    calls=200,
    growth_calls=60,
    aggregation_runs=3,
    cold_start_samples=7,
    cold_start_functions=None,
)
QUICK = Sizes(
    tenants=50,
    days=30,
    events_per_day=200_000,
    aggregation_days=(20_000, 200_000),
    live_events=50_000,
    stored_ids=(0, 100_000, 1_000_000),
    ingest_batches=4,
    handler_batches=3,
    calls=12,
    growth_calls=6,
    aggregation_runs=2,
    cold_start_samples=2,
    cold_start_functions=("get_costs", "get_cost_summary", "ingest_telemetry"),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", help=f"comma list of {', '.join(BENCHMARKS)}")
    parser.add_argument("--output", type=Path, help="where to write the results (markdown)")
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the markdown from the last full run's saved figures"
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="with --only: put the re-measured sections into the last full run's figures and rewrite its markdown",
    )
    args = parser.parse_args(argv)
    if args.update and (args.quick or not args.only):
        parser.error("--update re-measures sections of the full run: give --only, and not --quick")
    if args.render:
        from bench.sections import render  # report.render plus the budget and analytics sections

        saved = pickle.loads(SAVED.read_bytes())
        saved_output: Path = saved.pop("output")
        output: Path = args.output or saved_output
        output.write_text(render(**saved))
        log(f"wrote {output} from {SAVED}")
        return 0

    only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
    if unknown := only - set(BENCHMARKS):
        parser.error(f"unknown benchmarks {sorted(unknown)}; expected some of {', '.join(BENCHMARKS)}")
    sizes = QUICK if args.quick else FULL
    default_output = env.ROOT / "bench" / "RESULTS.md"
    if (args.quick or only != set(BENCHMARKS)) and not args.update:
        default_output = env.DATA_DIR / ("RESULTS.quick.md" if args.quick else "RESULTS.partial.md")
    output = args.output or default_output

    started = time.perf_counter()
    machine = env.machine_details()
    env.prepare_engine_dir()
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}

    loads: list[str] = []

    def attempt(name: str, function: Any) -> None:
        if name not in only:
            return
        log(f"--- {name}")
        with LoadWatch() as load:
            try:
                results[name] = function()
            except Exception:  # a failed benchmark is reported, the others still run
                errors[name] = traceback.format_exc()
                log(f"{name} FAILED:\n{errors[name]}")
        loads.append(f"{name} {load.low:.1f}-{load.high:.1f}")
        machine[LOAD_KEY] = "; ".join(loads)

    attempt("cold-start", lambda: _cold_start(sizes))
    attempt("aggregation", lambda: _aggregation(sizes))
    attempt("ingestion", lambda: _ingestion(sizes))
    attempt("queries", lambda: _queries(sizes))
    attempt("budgets", lambda: _section("budgets", quick=args.quick))
    attempt("analytics", lambda: _section("analytics", quick=args.quick))

    from bench.sections import render  # report.render plus the budget and analytics sections

    elapsed = time.perf_counter() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": machine,
        "sizes": SimpleNamespace(**asdict(sizes)),  # picklable whatever this module is called
        "results": results,
        "errors": errors,
        "elapsed": elapsed,
        "quick": args.quick,
    }
    if args.update:
        report = _updated(report, only)
    partial = only != set(BENCHMARKS) and not args.update
    saved_figures(quick=args.quick, partial=partial).write_bytes(pickle.dumps({**report, "output": output}))
    output.write_text(render(**report))
    log(f"wrote {output} ({elapsed / 60:.1f} min)")
    return 1 if errors else 0


def _updated(report: dict[str, Any], sections: set[str]) -> dict[str, Any]:
    """The last full run's figures with some sections re-measured (`--update`), which its markdown names."""
    saved: dict[str, Any] = pickle.loads(SAVED.read_bytes())
    saved.pop("output", None)
    for name in sections:
        saved["errors"].pop(name, None)
        if name in report["results"]:
            saved["results"][name] = report["results"][name]
        if name in report["errors"]:
            saved["errors"][name] = report["errors"][name]
    load = report["machine"].get(LOAD_KEY, "")
    saved["remeasured"] = {
        **saved.get("remeasured", {}),
        **{name: f"{report['machine']['Date']} (load {load})" for name in sorted(sections)},
    }
    return saved


class LoadWatch:
    """The lowest and highest 1-minute load average while a benchmark runs (sampled every 2 s): the machine is
    shared, so RESULTS.md says how busy it was."""

    def __init__(self) -> None:
        self.low = self.high = os.getloadavg()[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> LoadWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(2.0):
            load = os.getloadavg()[0]
            self.low, self.high = min(self.low, load), max(self.high, load)


def _section(name: str, *, quick: bool) -> Any:
    """bench/budgets.py or bench/analytics.py (issue 3 section 7, issue 4 section 5), at their own sizes."""
    import importlib

    return importlib.import_module(f"bench.{name}").run(quick=quick, log=log)


def _cold_start(sizes: Sizes) -> Any:
    from bench import cold_start

    names = list(sizes.cold_start_functions) if sizes.cold_start_functions else None
    return cold_start.run(samples=sizes.cold_start_samples, names=names, log=log)


def _aggregation(sizes: Sizes) -> Any:
    from bench import aggregation

    return aggregation.run(sizes=sizes.aggregation_days, tenants=sizes.tenants, runs=sizes.aggregation_runs, log=log)


def _ingestion(sizes: Sizes) -> Any:
    from bench import ingestion

    return ingestion.run(
        stored_sizes=sizes.stored_ids,
        tenants=sizes.tenants,
        batches=sizes.ingest_batches,
        handler_batches=sizes.handler_batches,
        log=log,
    )


def _queries(sizes: Sizes) -> Any:
    from datetime import UTC, datetime

    from bench import dataset, queries
    from finops.costs.rate_card import current_rate_card

    client = env.create_database("bench_facts")
    dataset.create_kinds_table(
        client,
        current_rate_card(client),
        tenants=sizes.tenants,
        events_per_day=sizes.events_per_day,
        day=datetime.now(UTC).date(),
    )
    try:
        return queries.run(
            client,
            tenants=sizes.tenants,
            days=sizes.days,
            calls=sizes.calls,
            growth_calls=sizes.growth_calls,
            live_events=sizes.live_events,
            log=log,
        )
    finally:
        client.command("DROP DATABASE IF EXISTS bench_facts SYNC")  # its disk, before the next data set


if __name__ == "__main__":
    sys.exit(main())
