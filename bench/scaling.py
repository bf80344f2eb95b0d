"""bench/RESULTS.md's "How cost grows" table (issue 8, section 4): each axis's figure at each size, and its ratio to
the figure at the smallest size, gathered from the sections' own results (a section that did not run is left out).

- ingestion: events/s with 0, 10 and 100 million events stored (a batch's cost must not grow with history);
- cost queries: handler p95 of a tenant of 1x and of 10x daily volume, over 30, 90 and 365 days;
- the daily budget check: seconds for 1,000, 10,000 and 100,000 budgets (and per 1,000 budgets);
- aggregation: seconds for a day of 1 and 10 million events (and per million events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.stats import verdict


def render(results: dict[str, Any]) -> list[str]:
    rows: list[str] = []
    if (ingestion := results.get("ingestion")) is not None:
        rows += _ingestion(ingestion)
    if (queries := results.get("queries")) is not None and getattr(queries, "growth", None):
        rows += _queries(queries)
    if (budgets := results.get("budgets")) is not None:
        rows += _budgets(budgets)
    if (aggregation := results.get("aggregation")) is not None:
        rows += _aggregation(aggregation)
    if not rows:
        return []
    return [
        "## How cost grows",
        "",
        "Issue 8, section 4: each figure at each size, and its ratio to the figure at the smallest size (for a rate, "
        "slowest over fastest is the one to watch; for a time, 1.00 means it does not grow). 'Per unit' divides a "
        "job's time by its size: flat per unit means the job grows only with its own work. Nothing a single request "
        "does may grow with the total stored history. The details are in each section below.",
        "",
        "| Axis | Size | Figure | Ratio to the smallest | Per unit | Verdict |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _row(axis: str, size: str, figure: str, ratio: float, per_unit: str, passed: bool | None) -> str:
    return f"| {axis} | {size} | {figure} | {ratio:.2f} | {per_unit} | {'-' if passed is None else verdict(passed)} |"


def _series(
    axis: str,
    items: Sequence[Any],
    *,
    size: Callable[[Any], str],
    value: Callable[[Any], float],
    figure: Callable[[float], str],
    per_unit: Callable[[Any], str] = lambda _: "",
    passed: Callable[[Any], bool | None] = lambda _: None,
) -> list[str]:
    """One row per size; the axis named on the first row only, ratios to the first (smallest) item."""
    base = value(items[0]) if items else 0.0
    return [
        _row(
            axis if i == 0 else "",
            size(item),
            figure(value(item)),
            value(item) / base if base else 0.0,
            per_unit(item),
            passed(item),
        )
        for i, item in enumerate(items)
    ]


def _ingestion(result: Any) -> list[str]:
    from bench.ingestion import FLAT_WITHIN

    runs = sorted(result.runs, key=lambda r: r.stored_ids)
    rows: list[str] = []
    for path, name in (("direct", "`ingest()`"), ("handler", "`ingest_telemetry` handler")):
        flat = result.flat(path)
        paths = [(run.stored_ids, getattr(run, path), flat) for run in runs]
        rows += _series(
            f"Ingestion through {name}, events/s (>= {paths[0][1].target:,}; every size within {FLAT_WITHIN:.0%} "
            f"of the others: {verdict(flat)}, slowest/fastest {result.spread(path):.2f})",
            paths,
            size=lambda p: f"{p[0]:,} events stored",
            value=lambda p: p[1].events_per_second,
            figure=lambda v: f"{v:,.0f} events/s",
            per_unit=lambda p: f"{1e6 / p[1].events_per_second:.1f} µs/event",
            passed=lambda p: bool(p[1].passed and p[2]),
        )
    check = "duplicate check (after the insert)"
    if runs and all(check in r.phases_ms for r in runs):
        rows += _series(
            "Ingestion: its duplicate check, ms per batch of 5,000 (median)",
            runs,
            size=lambda r: f"{r.stored_ids:,} events stored",
            value=lambda r: r.phases_ms[check],
            figure=lambda v: f"{v:.1f} ms",
        )
    return rows


def _queries(result: Any) -> list[str]:
    from bench.queries import TARGET_P95_MS

    rows: list[str] = []
    for endpoint in dict.fromkeys(cell.endpoint for cell in result.growth):
        cells = sorted((c for c in result.growth if c.endpoint == endpoint), key=lambda c: (c.events_today, c.days))
        smallest = cells[0].events_today or 1
        labelled = [
            (f"{c.events_today / smallest:.0f}x tenant ({c.events_today:,} events today), {c.days} days", c)
            for c in cells
        ]
        rows += _series(
            f"Cost query `{endpoint.label}`, handler p95, facts as loaded + today live (< {TARGET_P95_MS:g} ms)",
            labelled,
            size=lambda item: item[0],
            value=lambda item: item[1].p95,
            figure=lambda v: f"{v:.1f} ms",
            passed=lambda item: bool(item[1].p95 < TARGET_P95_MS),
        )
    return rows


def _budgets(result: Any) -> list[str]:
    main = [(result.tenants, result.budgets, result.daily)]
    sizes = sorted(main + [(s.tenants, s.budgets, s.runs) for s in result.scaling], key=lambda s: s[1])
    return _series(
        "Daily budget check, slowest of its three runs (10,000 budgets < 10 s, 100,000 < 60 s)",
        sizes,
        size=lambda s: f"{s[1]:,} budgets ({s[0]:,} tenants)",
        value=lambda s: max(r.seconds for r in s[2]),
        figure=lambda v: f"{v:.2f} s",
        per_unit=lambda s: f"{max(r.seconds for r in s[2]) / s[1] * 1000:.2f} s per 1,000 budgets",
        passed=lambda s: all(r.passed for r in s[2]),
    )


def _aggregation(results: Any) -> list[str]:
    return _series(
        "Aggregation of one day, slowest run (< 10 s)",
        sorted(results, key=lambda r: r.events),
        size=lambda r: f"{r.events:,} events, {r.tenants:,} tenants",
        value=lambda r: r.worst,
        figure=lambda v: f"{v:.2f} s",
        per_unit=lambda r: f"{r.worst / (r.events / 1e6):.2f} s per million events",
        passed=lambda r: r.passed,
    )
