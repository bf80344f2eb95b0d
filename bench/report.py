"""bench/RESULTS.md: the figures against their targets, the machine, the data set, and what limits a miss."""

from __future__ import annotations

from typing import Any

from bench.stats import median, percentile, verdict


def render(
    machine: dict[str, str], sizes: Any, results: dict[str, Any], errors: dict[str, str], elapsed: float, *, quick: bool
) -> str:
    out: list[str] = []
    w = out.append
    w("# Benchmark results")
    w("")
    w(
        f"Written by `make bench` (`.venv/bin/python -m bench.run{' --quick' if quick else ''}`) on {machine['Date']}, "
        f"in {elapsed / 60:.1f} minutes. Do not edit by hand: re-run the benchmark."
    )
    if quick:
        w("")
        w("**Quick run: small sizes, a smoke test only. These figures say nothing about the targets.**")
    w("")
    w(
        "Targets from issue 2, section 8. The machine is shared and noisy: figures are medians and 95th "
        "percentiles, and comparisons are meaningful within one run."
    )
    w("")
    _summary(w, results, errors)
    _machine(w, machine)
    _data_set(w, sizes, results)
    if "ingestion" in results:
        _ingestion(w, results["ingestion"])
    if "aggregation" in results:
        _aggregation(w, results["aggregation"])
    if "queries" in results:
        _queries(w, results["queries"])
    if "cold-start" in results:
        _cold_start(w, results["cold-start"])
    if errors:
        w("## Failures")
        w("")
        for name, trace in errors.items():
            w(f"### {name}")
            w("")
            w("```")
            w(trace.rstrip())
            w("```")
            w("")
    return "\n".join(out).rstrip() + "\n"


def _summary(w: Any, results: dict[str, Any], errors: dict[str, str]) -> None:
    w("## Summary")
    w("")
    w("| Figure | Target | Result | Verdict |")
    w("|---|---|---|---|")
    if ingestion := results.get("ingestion"):
        for t in _throughputs(ingestion):
            w(
                f"| Ingestion, {t.label} | >= 100,000 events/s per process | {t.events_per_second:,.0f} events/s "
                f"| {verdict(t.passed)} |"
            )
    if aggregation := results.get("aggregation"):
        w(
            f"| Aggregation of one day, {aggregation.events:,} events, {aggregation.tenants:,} tenants | < 10 s | "
            f"{aggregation.worst:.2f} s (slowest of {len(aggregation.runs)} runs; re-runs identical: "
            f"{'yes' if aggregation.identical and aggregation.matches_raw else 'NO'}) | {verdict(aggregation.passed)} |"
        )
    if queries := results.get("queries"):
        for variant in queries.variants:
            worst = max(variant.times, key=lambda t: t.p95)
            failing = sum(1 for t in variant.times if not t.passed)
            w(
                f"| Cost endpoints, handler p95, {variant.label} | p95 < 25 ms each | worst p95 {worst.p95:.1f} ms "
                f"({worst.endpoint.label}); {len(variant.times) - failing}/{len(variant.times)} within target "
                f"| {verdict(variant.passed)} |"
            )
    if cold := results.get("cold-start"):
        api = cold.api_functions
        worst = max(api, key=lambda f: f.median_ms)
        failing = sum(1 for f in api if not f.passed)
        w(
            f"| Cold start (import + init), API functions, Lambda-like environment | median < 300 ms each | "
            f"worst median {worst.median_ms:.0f} ms ({worst.name}); {len(api) - failing}/{len(api)} within target "
            f"| {verdict(cold.passed)} |"
        )
    for name in errors:
        w(f"| {name} | | failed, see below | FAILED |")
    w("")


def _machine(w: Any, machine: dict[str, str]) -> None:
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for key, value in machine.items():
        w(f"| {key} | {value} |")
    w("")


def _data_set(w: Any, sizes: Any, results: dict[str, Any]) -> None:
    w("## Data set")
    w("")
    w(
        f"Generated in ClickHouse with `INSERT ... SELECT` from `numbers()` (bench/dataset.py): {sizes.tenants:,} "
        "tenants of skewed size (tenant i gets a share sqrt((i+1)/n) - sqrt(i/n) of the events, the largest about "
        "60 times the smallest), each using 40 kinds of usage across the five categories (4 AI models of 13, "
        "one of which is not on the rate card and is priced by the fallback; 2 home regions; several services), "
        "priced with the real rate card (sql/clickhouse/004_rate_card_defaults.sql)."
    )
    w("")
    if queries := results.get("queries"):
        w(
            f"- Cost facts: {queries.fact_rows:,} rows ({queries.tenants:,} tenants x {queries.days} days ending "
            f"yesterday, up to 96 rows per tenant-day), written in {queries.generate_seconds:.0f} s, in "
            f"{queries.fact_parts} parts as loaded; with matching `cost_aggregation_watermarks` and "
            "`usage_ingest_log` rows so the live path finds nothing to add."
        )
        w(
            f"- Today's raw events for the live variant: {queries.live_events:,} (half a day of the "
            f"{sizes.events_per_day:,}-events/day volume), written in {queries.live_generate_seconds:.0f} s."
        )
    if aggregation := results.get("aggregation"):
        w(
            f"- Raw telemetry of the aggregated day: {aggregation.events:,} events in `usage_events` "
            f"(written in {aggregation.generate_seconds:.0f} s, "
            f"{aggregation.events / aggregation.generate_seconds:,.0f} rows/s including the two materialized "
            f"views; {aggregation.raw_parts} parts)."
        )
    w("")


def _ingestion(w: Any, result: Any) -> None:
    w("## 1. Ingestion")
    w("")
    w(
        "Batches of 5,000 mixed events (AI about 60%, compute, storage, export, egress; some versioned model names, "
        "some models off the card, 3% with `costUsd`), fresh UUID event ids, about 2.5% duplicates (1% repeated "
        "within the batch, 1% re-sent from the previous batch, 0.5% ids already stored for another day). "
        "One process, one thread; the first 2 batches of each path are warm-up and not counted. First into an "
        "empty database (the duplicate lookup has nothing to scan: what the code itself costs), then into the "
        f"database of the aggregated day, whose `usage_event_ids` held {result.known_ids:,} ids before the run."
    )
    w("")
    w(
        "| Path | Batches | Events | Accepted | Duplicates (as expected) | Rejected | Flagged | Events/s | "
        "Batch p50 | Batch p95 | Verdict |"
    )
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in _throughputs(result):
        w(
            f"| {t.label} | {t.batches} | {t.events:,} | {t.accepted:,} | {t.duplicates:,} "
            f"({'yes' if t.duplicates_as_expected else 'NO'}) | {t.rejected} | {t.flagged:,} | "
            f"{t.events_per_second:,.0f} | {t.batch_p50_ms:.0f} ms | {t.batch_p95_ms:.0f} ms | {verdict(t.passed)} |"
        )
    w("")
    stores = [(f"{result.known_ids:,} stored ids", result.phases_ms)]
    if result.empty_phases_ms:
        stores.insert(0, ("empty database", result.empty_phases_ms))
    w(
        "Where a batch's time goes (a separate pass of 8 batches per database, each phase of `ingest()` timed by "
        "wrapping it; medians, ms per batch of 5,000):"
    )
    w("")
    w("| Phase | " + " | ".join(f"{name}: ms | µs/event" for name, _ in stores) + " |")
    w("|---|" + "---|---|" * len(stores))
    for label in stores[-1][1]:
        cells = " | ".join(f"{phases.get(label, 0.0):.1f} | {phases.get(label, 0.0) / 5:.1f}" for _, phases in stores)
        w(f"| {'**total**' if label == 'total' else label} | {cells} |")
    w("")
    if not result.direct.passed:
        lookup = result.phases_ms.get("duplicate lookup", 0.0)
        total = result.phases_ms.get("total", 0.0)
        w(
            "**What limits it.** 100,000 events/s means 50 ms for a batch of 5,000, i.e. 10 µs per event for "
            "everything, in one Python process."
        )
        if result.empty_phases_ms:
            empty = result.empty_phases_ms
            w(
                f"Even into an empty database a batch takes {empty.get('total', 0.0):.0f} ms: pydantic validation "
                f"of the discriminated union ({empty.get('validation (pydantic)', 0.0) / 5:.1f} µs/event), exact "
                f"`Decimal` rating ({empty.get('rating', 0.0) / 5:.1f} µs/event), the insert "
                f"({empty.get('insert', 0.0) / 5:.1f} µs/event: clickhouse-connect's Native serialisation in Python, "
                "then the server writing `usage_events` and its two materialized views) and the duplicate lookup "
                f"({empty.get('duplicate lookup', 0.0):.0f} ms per batch with nothing to find: the 5,000 ids are "
                "escaped character by character by clickhouse-connect to bind them as a parameter, then parsed "
                "into a set by the server)."
            )
        w(
            f"With {result.known_ids:,} ids stored the lookup takes {lookup:.0f} of the batch's {total:.0f} ms: "
            "`tenant_id IN (...) AND event_id IN (...)` cannot prune granules of `usage_event_ids` (a batch's "
            "random ids fall in nearly every granule), so it scans the whole id table, and it grows with every "
            "event ever ingested. Lambda runs concurrent invocations in separate processes, so the service's "
            "throughput scales out; the per-process figure is the cost per event."
        )
        w("")


def _throughputs(result: Any) -> list[Any]:
    stored = f", {result.known_ids:,} stored ids"
    rows = [result.empty_store] if result.empty_store is not None else []
    for t in (result.direct, result.handler):
        t.label = t.label if t.label.endswith(stored) else t.label + stored
        rows.append(t)
    return rows


def _aggregation(w: Any, result: Any) -> None:
    w("## 2. Aggregation")
    w("")
    w(
        f"`finops.costs.aggregation.aggregate_days([{result.day}], settle_seconds=0)` over {result.events:,} raw "
        f"events of {result.tenants:,} tenants, run {len(result.runs)} times on the same day (background merges "
        "allowed to finish before each run)."
    )
    w("")
    w("| Run | Seconds | Fact rows | Sum of billed_cost (USD) | Sum of event_count |")
    w("|---|---|---|---|---|")
    for i, (seconds, rows, totals) in enumerate(zip(result.runs, result.fact_rows, result.totals, strict=True)):
        w(f"| {i + 1} | {seconds:.2f} | {rows:,} | {totals[1]} | {totals[2]:,} |")
    w("")
    raw_cost, meter_rows, raw_events, raw_tenants = result.raw_totals
    w(
        f"Median {median(result.runs):.2f} s, slowest {result.worst:.2f} s (target < 10 s: {verdict(result.passed)}). "
        f"Re-runs give identical facts: {'yes' if result.identical else 'NO'}. The facts match the raw events "
        f"(sum of costs {raw_cost} USD over {meter_rows:,} meter lines of {raw_events:,} events, "
        f"{raw_tenants:,} tenants): {'yes' if result.matches_raw else 'NO'}."
    )
    w("")
    w(
        f"{'**What limits it.** ' if not result.passed else ''}A run reads the day's {raw_events:,} raw events "
        "with `FINAL` (ReplacingMergeTree de-duplication on a key ending in the `String` event id), expands them "
        f"into {meter_rows:,} meter lines with `ARRAY JOIN` and groups those by seven keys, using both cores. "
        f"The same work took {min(result.runs):.2f} s in the fastest run and {result.worst:.2f} s in the slowest: "
        "when other processes hold one of the two cores (see the load average above) it takes up to twice as long."
    )
    w("")


def _queries(w: Any, result: Any) -> None:
    w("## 3. Cost endpoints")
    w("")
    w(
        f"Each endpoint's `lambda_handler` called in-process (`local.lambda_runtime.load_function`, "
        f'`http_api_event`, `LambdaContext`; JWT claims `{{tenant_id: t, roles: "[user]"}}`), '
        f"{result.calls_per_endpoint} calls per endpoint and variant, a random tenant of {result.tenants:,} and a "
        "random range of 30, 90 or 365 days ending today for each call, endpoints interleaved. The time is the "
        "whole handler (event parsing, validation, auth, queries, response model, JSON, EMF metrics); "
        "'engine' is the part spent inside `client.query` (chDB). Tracing is off in-process."
    )
    w("")
    for variant in result.variants:
        w(f"### {variant.label}")
        w("")
        w("| Endpoint | p50 ms | p95 ms | p95 30 d | p95 90 d | p95 365 d | engine p50 ms | queries/call | Verdict |")
        w("|---|---|---|---|---|---|---|---|---|")
        for t in variant.times:
            ranges = " | ".join(f"{percentile(t.by_range.get(d, []), 95):.1f}" for d in (30, 90, 365))
            w(
                f"| {t.endpoint.label} | {t.p50:.1f} | {t.p95:.1f} | {ranges} | {median(t.engine_ms):.1f} | "
                f"{median(t.queries):.0f} | {verdict(t.passed)} |"
            )
        w("")
    if not result.passed:
        w(
            "**What limits it.** Nearly all of a call is engine time (compare the engine column with p50); the "
            "Python side (event, validation, models, JSON, metrics) is 1-2 ms. Every endpoint makes two queries "
            "(queries/call): which days have live data (`_LIVE_DAYS`, a join of `usage_ingest_log` and "
            "`cost_aggregation_watermarks`, about 5 ms on its own here whatever the range), then its query over "
            "`cost_facts FINAL` plus the live rows. Every chDB query that reads a MergeTree table has a fixed cost "
            "of a few ms. The summary and top-drivers read twice the range (the previous period too) and expand "
            "each row into four dimensions. `FINAL` costs more the more parts a tenant's range spans: compare "
            "'as loaded' with 'merged'. With today's raw events the live path adds a `FINAL` read of the tenant's "
            "raw events of today with an `ARRAY JOIN` over their meters (10-20 ms for a median tenant at 5 "
            "million events today), which grows with the tenant's daily volume: the largest tenants make the "
            "p95. Other work on this shared 2-core machine inflates the p95 further (see the load average above)."
        )
        w("")


def _cold_start(w: Any, result: Any) -> None:
    w("## 4. Cold start")
    w("")
    w(
        f"A fresh interpreter per sample imports `functions/<name>/app.py` (as `local.lambda_runtime.load_function` "
        f"does) and reads the settings; median of {result.samples} samples per function, functions interleaved. "
        "Interpreter start-up is not counted. The environment is Lambda-like: the template's variables and "
        "`LAMBDA_TASK_ROOT` (no X-Ray SDK is imported: `Tracing: Active` traces the functions without one). "
        "The target applies to API "
        "functions; scheduled ones are listed for reference. This machine's CPU, not a Lambda's (a 512 MB "
        "function gets a fraction of a vCPU, though init runs at full speed)."
    )
    w("")
    w("| Function | Kind | Median ms | p95 ms | Modules loaded | Verdict |")
    w("|---|---|---|---|---|---|")
    for f in result.functions:
        w(
            f"| {f.name} | {'API' if f.api else 'scheduled'} | {f.median_ms:.0f} | {percentile(f.lambda_ms, 95):.0f} | "
            f"{f.modules} | {verdict(f.passed) if f.api else '-'} |"
        )
    w("")
    w(
        f"Where the import time of the slowest API function, `{result.slowest}`, goes: the own import time of "
        "every module, summed by top-level package (`python -X importtime`, Lambda-like, one sample; importtime "
        "inflates the total a little):"
    )
    w("")
    w("| Package | ms |")
    w("|---|---|")
    for module, ms in result.top_imports:
        w(f"| `{module}` | {ms:.0f} |")
    w("")
    if not result.passed:
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in result.top_imports[:8])
        w(
            f"**What limits it.** Import time, spread over many packages ({top}). `finops` is the layer's own "
            "modules (pydantic models are built at import); `aws_lambda_powertools` and `pydantic` the HTTP resolver "
            "with OpenAPI validation; `clickhouse_connect` (with `urllib3`) the ClickHouse client. "
            "Powertools also imports botocore for its user agent when it is installed (it always is on Lambda)."
        )
        w("")
