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
from datetime import date, timedelta

import numpy as np

from bench.accuracy.generator import GeneratedSeries, InjectedAnomaly
from finops.anomalies import Detection, detect, detect_many, detect_range, history_start, root_cause
from finops.anomalies.detection import LOOKBACK_WEEKS

DETECT_METHODS = ("statistical", "seasonal", "auto")
MIN_IMPACT_USD = 25.0
SCORE_FROM = 14  # days before this are baseline only (every method needs some history)
BASELINE_DAYS = 28  # the root cause's baseline window


@dataclass(slots=True)
class _Rates:
    method: str
    hits: int = 0
    false_alarms: int = 0
    labelled: int = 0
    found: int = 0

    @property
    def precision(self) -> float:
        total = self.hits + self.false_alarms
        return self.hits / total if total else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else float("nan")


@dataclass(slots=True)
class DetectionScore(_Rates):
    ignored: int = 0
    found_by_kind: Counter[str] = field(default_factory=Counter)
    labelled_by_kind: Counter[str] = field(default_factory=Counter)
    false_by_direction: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    cause_checked: int = 0
    cause_top1: int = 0
    new_checked: int = 0
    new_flagged: int = 0


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


# --- the scenario: spikes on young and older tenants, scored as the service scores them ----------

SCENARIO_RANGE_DAYS = 60
SCENARIO_HISTORY_DAYS = (30, 45, 60, 90, 120, 150)  # how long each tenant has spent before the range
SCENARIO_SPIKES = 3  # per tenant, in the range
SCENARIO_SECOND_DAY = 0.3  # chance that a spike lasts a second day (a two-day incident)


@dataclass(frozen=True, slots=True)
class SpikeScenario:
    """Tenants' daily spend on shared dates (zeros before each tenant's first day) and the spike days."""

    first_day: date
    start: date
    end: date
    matrix: np.ndarray
    spikes: list[set[int]]  # per tenant, indices into the matrix
    second_days: list[set[int]]  # the spikes that were the second day of a two-day incident
    history_days: list[int]


@dataclass(slots=True)
class ScenarioScore(_Rates):
    """`labelled` counts the spike days (the second day of a two-day spike is a spike of its own)."""

    second_days: int = 0
    second_found: int = 0
    young: int = 0  # spikes of tenants with less history before the range than the 13 weeks the detector reads
    young_found: int = 0


def spike_scenario(seed: int, tenants: int) -> SpikeScenario:
    """The issue's data: two models, a weekly pattern, 5% noise per model, and single-day spikes of +50% to
    +200% of the day's total on one model (30% of them lasting a second day), on tenants that started 30 to
    150 days before the requested 60-day range."""
    rng = np.random.default_rng(seed)
    end = date(2026, 6, 30)
    start = end - timedelta(days=SCENARIO_RANGE_DAYS - 1)
    first_day = history_start(start) - timedelta(days=max(SCENARIO_HISTORY_DAYS))
    n = (end - first_day).days + 1
    weekday = np.array([(first_day + timedelta(days=i)).weekday() for i in range(n)])
    range_start = (start - first_day).days
    matrix = np.zeros((tenants, n))
    spikes: list[set[int]] = []
    seconds: list[set[int]] = []
    histories = []
    for t in range(tenants):
        history = int(rng.choice(SCENARIO_HISTORY_DAYS))
        begin = range_start - history
        weekend = rng.uniform(0.3, 0.8)
        pattern = np.where(weekday >= 5, weekend, 1.0)
        size = rng.lognormal(np.log(300), 0.8)
        models = [size * share * pattern * np.exp(rng.normal(0, 0.05, n)) for share in (1.0, rng.uniform(0.3, 1.0))]
        days: set[int] = set()
        second: set[int] = set()
        while len(days) < SCENARIO_SPIKES:
            day = int(rng.integers(range_start, n))
            span = [day, day + 1] if rng.random() < SCENARIO_SECOND_DAY and day + 1 < n else [day]
            if any(abs(d - other) < 3 for d in span for other in days):
                continue
            for d in span:
                models[int(rng.integers(2))][d] += rng.uniform(0.5, 2.0) * (models[0][d] + models[1][d])
            days.update(span)
            second.update(span[1:])
        total = models[0] + models[1]
        total[:begin] = 0.0
        matrix[t] = total
        spikes.append(days)
        seconds.append(second)
        histories.append(history)
    return SpikeScenario(first_day, start, end, matrix, spikes, seconds, histories)


def evaluate_scenario(scenario: SpikeScenario, *, z_threshold: float = 4.0) -> dict[str, ScenarioScore]:
    """Each method through `detect_range`, as the endpoints and the daily job call it."""
    scores = {}
    young_limit = LOOKBACK_WEEKS * 7
    for method in DETECT_METHODS:
        score = ScenarioScore(method)
        found = detect_range(
            scenario.matrix,
            scenario.first_day,
            scenario.start,
            scenario.end,
            method,  # type: ignore[arg-type]
            min_impact_usd=MIN_IMPACT_USD,
            z_threshold=z_threshold,
        )
        for t, detections in enumerate(found):
            up = {d.index for d in detections if d.direction == "up"}
            flagged = {d.index for d in detections}
            score.hits += len(up & scenario.spikes[t])
            score.false_alarms += len(flagged - (up & scenario.spikes[t]))
            score.labelled += len(scenario.spikes[t])
            score.found += len(up & scenario.spikes[t])
            score.second_days += len(scenario.second_days[t])
            score.second_found += len(up & scenario.second_days[t])
            if scenario.history_days[t] < young_limit:
                score.young += len(scenario.spikes[t])
                score.young_found += len(up & scenario.spikes[t])
        scores[method] = score
    return scores
