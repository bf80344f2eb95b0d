"""Anomaly detection precision, recall, root-cause accuracy and speed on generated series.

Matching: a detection is a hit when its day lies in the span of a labelled injected event (the event's days;
for level shifts and new services also the two days after) and its direction is the event's; a detection in
the span of an unlabelled injected event (too small to be an anomaly by the issue's definition) is ignored;
any other detection is a false alarm. An event is found when at least one detection hits it.
Precision = hits / (hits + false alarms); recall = found labelled events / labelled events.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench.accuracy.generator import GeneratedSeries, InjectedAnomaly
from finops.anomalies import Detection, detect, detect_many, root_cause

DETECT_METHODS = ("statistical", "seasonal", "auto")
MIN_IMPACT_USD = 25.0
SCORE_FROM = 14  # days before this are baseline only (every method needs some history)
BASELINE_DAYS = 28  # the root cause's baseline window


@dataclass(slots=True)
class DetectionScore:
    method: str
    hits: int = 0
    false_alarms: int = 0
    ignored: int = 0
    labelled: int = 0
    found: int = 0
    found_by_kind: Counter[str] = field(default_factory=Counter)
    labelled_by_kind: Counter[str] = field(default_factory=Counter)
    false_by_direction: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    cause_checked: int = 0
    cause_top1: int = 0
    new_checked: int = 0
    new_flagged: int = 0

    @property
    def precision(self) -> float:
        total = self.hits + self.false_alarms
        return self.hits / total if total else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else float("nan")


def _in_span(a: InjectedAnomaly, day: int) -> bool:
    return a.start <= day < a.start + a.days


def _check_cause(score: DetectionScore, s: GeneratedSeries, d: Detection, event: InjectedAnomaly) -> None:
    if event.service is None or d.index != event.start:
        return
    lo = max(0, d.index - BASELINE_DAYS)
    day = {"service": {name: float(v[d.index]) for name, v in s.services.items() if v[d.index] > 0}}
    base = {
        "service": {name: float(v[lo : d.index].mean()) for name, v in s.services.items() if v[lo : d.index].sum() > 0}
    }
    causes = root_cause(day, base, expected_total=d.expected)
    score.cause_checked += 1
    if causes and causes[0].value == event.service:
        score.cause_top1 += 1
    if event.kind == "new_service":
        score.new_checked += 1
        score.new_flagged += any(c.value == event.service and c.new for c in causes)


def evaluate(series: list[GeneratedSeries]) -> dict[str, DetectionScore]:
    scores = {m: DetectionScore(m) for m in DETECT_METHODS}
    for s in series:
        labelled = [a for a in s.anomalies if a.labelled]
        unlabelled = [a for a in s.anomalies if not a.labelled]
        for method, score in scores.items():
            detections = detect(s.values, s.start, method, min_impact_usd=MIN_IMPACT_USD, score_from=SCORE_FROM)  # type: ignore[arg-type]
            found: set[int] = set()
            for d in detections:
                score.severities[d.severity] += 1
                hit = [k for k, a in enumerate(labelled) if _in_span(a, d.index) and a.direction == d.direction]
                if hit:
                    score.hits += 1
                    for k in hit:
                        if k not in found:
                            _check_cause(score, s, d, labelled[k])
                    found.update(hit)
                elif any(_in_span(a, d.index) for a in unlabelled):
                    score.ignored += 1
                else:
                    score.false_alarms += 1
                    score.false_by_direction[d.direction] += 1
            score.labelled += len(labelled)
            score.found += len(found)
            for k, a in enumerate(labelled):
                score.labelled_by_kind[a.kind] += 1
                if k in found:
                    score.found_by_kind[a.kind] += 1
    return scores


@dataclass(frozen=True, slots=True)
class Timing:
    series: int
    days: int
    full_scan_seconds: dict[str, float]
    last_day_seconds: float
    batch_seconds: float


def time_detection(series: list[GeneratedSeries]) -> Timing:
    """The daily job's maths: every series scanned in full per method, `auto` on the last day only, and `auto`
    over the whole matrix at once."""
    values = [s.values for s in series]
    full = {}
    for method in DETECT_METHODS:
        start = time.perf_counter()
        for v in values:
            detect(v, None, method, min_impact_usd=MIN_IMPACT_USD)  # type: ignore[arg-type]
        full[method] = time.perf_counter() - start
    start = time.perf_counter()
    for v in values:
        detect(v, None, "auto", min_impact_usd=MIN_IMPACT_USD, score_from=len(v) - 1)
    last = time.perf_counter() - start
    matrix = np.array(values)
    start = time.perf_counter()
    detect_many(matrix, None, "auto", min_impact_usd=MIN_IMPACT_USD)
    batch = time.perf_counter() - start
    return Timing(
        series=len(series), days=len(values[0]), full_scan_seconds=full, last_day_seconds=last, batch_seconds=batch
    )
