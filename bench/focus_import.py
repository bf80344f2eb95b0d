"""Benchmark: a FOCUS file of a million rows imported in bounded memory (python -m bench.focus_import [rows]).

The file (rows over a month, 50 sub accounts, 7 regions) is generated as the import reads it, so neither side
holds it; the import streams it row by row, sums per day and key, and flushes every FLUSH_KEYS keys, as the S3 import
does with an object's body. It runs in an engine directory of its own (bench/data/chdb-focus), apart from `make
bench`. Reported: wall and CPU time (CPU time does not depend on what else the machine runs), the Python heap's peak
(tracemalloc: what the import itself holds, whatever the file's size) and the process's peak resident memory (chDB's
engine included). `--time` leaves tracemalloc off, which slows every allocation, for the time alone.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import time
import tracemalloc
from typing import IO, cast

from bench.env import CLICKHOUSE_SQL, DATA_DIR

ENGINE_DIR = DATA_DIR / "chdb-focus"


def main(rows: int = 1_000_000, *, trace: bool = True) -> None:
    if ENGINE_DIR.exists():
        shutil.rmtree(ENGINE_DIR)
    ENGINE_DIR.mkdir(parents=True)
    os.environ["CLICKHOUSE_URL"] = f"chdb://{ENGINE_DIR}"
    os.environ["CLICKHOUSE_DATABASE"] = "focus_bench"
    import local.lambda_runtime  # noqa: F401  (puts the layer on sys.path)
    from finops.currencies.rates import ExchangeRates
    from finops.db import clickhouse
    from finops.db.migrate import apply_migrations
    from finops.focus.importer import import_focus
    from finops.focus.rows import ImportTarget
    from tests.focus.bills import GeneratedBill

    apply_migrations(clickhouse.connect(), "focus_bench", CLICKHOUSE_SQL)
    client = clickhouse.get_client()
    bill = GeneratedBill(rows)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    # The bill is read as import_focus reads any file, through read(), without being one.
    result = import_focus(
        client,
        cast("IO[bytes]", bill),
        ImportTarget(tenant_id="bench"),
        rates=ExchangeRates.from_rows([]),
        retention_days=3653,
    )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    heap = f"Python heap peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB; " if trace else ""
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{result.rows_imported:,} rows ({bill.size / 1e6:.0f} MB of CSV) in {seconds:.1f} s wall, {cpu_seconds:.1f} s "
        f"CPU ({result.rows_imported / cpu_seconds:,.0f} rows per CPU second, tracemalloc {'on' if trace else 'off'}); "
        f"{heap}process peak RSS {rss_after / 1024:.0f} MB (before the import {rss_before / 1024:.0f} MB); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    clickhouse.reset_client()


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--time"]
    main(int(arguments[0]) if arguments else 1_000_000, trace="--time" not in sys.argv)
