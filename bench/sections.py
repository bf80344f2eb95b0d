"""bench/RESULTS.md with the budget, forecast and anomaly sections (issue 3 section 7, issue 4 section 5).

`render` takes what bench/report.py's `render` takes, renders that, and adds these sections (their own summary
table, then the details) before the failures, if any. bench/run.py calls it in place of `report.render`.
"""

from __future__ import annotations

from typing import Any


def render(**report: Any) -> str:
    from bench import report as base

    text = base.render(**report).rstrip() + "\n"
    extra = markdown(report.get("results") or {})
    if not extra:
        return text
    marker = "\n## Failures\n"
    if marker in text:
        head, tail = text.split(marker, 1)
        return f"{head.rstrip()}\n\n{extra}\n{marker.lstrip()}{tail}"
    return f"{text}\n{extra}"


def markdown(results: dict[str, Any]) -> str:
    from bench import analytics, budgets

    rows: list[str] = []
    body: list[str] = []
    if (result := results.get("budgets")) is not None:
        rows += budgets.summary_rows(result)
        body += budgets.render(result)
    if (result := results.get("analytics")) is not None:
        rows += analytics.summary_rows(result)
        body += analytics.render(result)
    if not rows:
        return ""
    out = [
        "## Summary: budgets, forecasts and anomalies",
        "",
        "Targets from issue 3, section 7 (budgets) and issue 4, section 5 (speed of forecasts and anomalies). "
        "Same machine and run as above; bench/budgets.py and bench/analytics.py, on a data set of their own "
        "(bench/spend_data.py).",
        "",
        "| Figure | Target | Result | Verdict |",
        "|---|---|---|---|",
        *rows,
        "",
        *body,
    ]
    return "\n".join(out).rstrip() + "\n"
