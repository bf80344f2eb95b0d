"""bench/run.py's saved figures: --render and --update work from the full run's, which no other run replaces."""

import pickle
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import run


def _full_run(path: Path, output: Path) -> dict[str, Any]:
    report = {
        "machine": {"Date": "2026-11-30 06:53 UTC", run.LOAD_KEY: "queries 1.2-2.1"},
        "sizes": SimpleNamespace(**asdict(run.FULL)),
        "results": {"queries": "the full run's", "cold-start": "kept"},
        "errors": {"queries": "a failure of the full run"},
        "elapsed": 60.0,
        "quick": False,
    }
    path.write_bytes(pickle.dumps({**report, "output": output}))
    return report


def test_a_partial_or_quick_run_keeps_its_figures_apart_from_the_full_runs() -> None:
    files = {run.saved_figures(quick=q, partial=p) for q in (False, True) for p in (False, True)}
    assert run.saved_figures(quick=False, partial=False) == run.SAVED and len(files) == 3


def test_render_writes_where_asked_from_the_full_runs_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "SAVED", tmp_path / "results.pickle")
    _full_run(run.SAVED, tmp_path / "RESULTS.md")
    rendered: dict[str, Any] = {}
    monkeypatch.setattr("bench.sections.render", lambda **report: rendered.update(report) or "# rendered\n")
    assert run.main(["--render", "--output", str(tmp_path / "elsewhere.md")]) == 0
    assert (tmp_path / "elsewhere.md").read_text() == "# rendered\n" and "output" not in rendered


def test_update_replaces_only_the_remeasured_sections_and_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "SAVED", tmp_path / "results.pickle")
    _full_run(run.SAVED, tmp_path / "RESULTS.md")
    again = {
        "machine": {"Date": "2026-12-01 08:00 UTC", run.LOAD_KEY: "queries 1.0-1.5"},
        "results": {"queries": "re-measured"},
        "errors": {},
    }
    updated = run._updated(again, {"queries"})
    assert updated["results"] == {"queries": "re-measured", "cold-start": "kept"}
    assert updated["errors"] == {} and updated["elapsed"] == 60.0 and "output" not in updated
    assert updated["remeasured"] == {"queries": "2026-12-01 08:00 UTC (load queries 1.0-1.5)"}
