"""Anomaly detection maths and root cause: behaviour on shaped series, and properties that must always hold."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from finops.anomalies import Detection, detect, detect_many, detect_range, history_start, root_cause, severity_of
from finops.anomalies.seasonal import _report_flags

WEEK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.4])
START = date(2026, 1, 5)  # a Monday


def business_week(days: int = 90, level: float = 1000.0, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * WEEK[np.arange(days) % 7] * np.exp(rng.normal(0, noise, days))


def on(detections: list[Detection], index: int) -> Detection:
    found = [d for d in detections if d.index == index]
    assert found, f"nothing detected on day {index}: {detections}"
    return found[0]


@pytest.mark.parametrize("method", ["auto", "seasonal", "statistical"])
def test_an_injected_spike_is_found_as_high_and_up(method: str) -> None:
    series = business_week()
    series[70] *= 3
    d = on(detect(series, START, method, min_impact_usd=50), 70)  # type: ignore[arg-type]
    assert (d.severity, d.direction) == ("high", "up")
    assert d.day == START + timedelta(days=70)
    assert d.actual == pytest.approx(series[70])
    assert d.impact == pytest.approx(d.actual - d.expected)
    if method != "statistical":  # the seed's expected value is the plain 28-day mean, weekends included
        assert d.expected == pytest.approx(1000, rel=0.1)
        assert d.deviation_percent == pytest.approx(200, abs=25)


@pytest.mark.parametrize("method", ["auto", "seasonal"])
def test_an_injected_drop_is_found_as_down(method: str) -> None:
    series = business_week()
    series[72] *= 0.3
    d = on(detect(series, START, method, min_impact_usd=50), 72)  # type: ignore[arg-type]
    assert (d.direction, d.severity) == ("down", "high")
    assert d.impact < 0


def test_a_noisy_series_ten_percent_off_is_not_flagged() -> None:
    series = business_week(noise=0.12, seed=2)
    series[75] = 1.1 * 1000 * WEEK[75 % 7]
    assert not [d for d in detect(series, START, min_impact_usd=1) if d.index == 75]


def test_a_small_impact_is_not_reported_below_the_minimum() -> None:
    series = business_week(level=10)
    series[70] *= 3  # +$20
    assert not detect(series, START, min_impact_usd=25)
    assert on(detect(series, START, min_impact_usd=5), 70).direction == "up"


QUIET_SUNDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2])


def quiet_sundays(seed: int) -> np.ndarray:
    return 1000 * QUIET_SUNDAY[np.arange(90) % 7] * np.exp(np.random.default_rng(seed).normal(0, 0.05, 90))


@pytest.mark.parametrize("method", ["auto", "seasonal"])
def test_weekly_dips_are_not_anomalies_for_the_seasonal_methods(method: str) -> None:
    # A 4-sigma day happens by chance now and then; a weekly pattern must not make it systematic.
    found = [d for seed in range(4) for d in detect(quiet_sundays(seed), START, method, min_impact_usd=10)]  # type: ignore[arg-type]
    assert len(found) <= 1
    assert not [d for d in detect(business_week(seed=1), START, method, min_impact_usd=10)]  # type: ignore[arg-type]


def test_the_statistical_baseline_is_blind_to_the_weekly_pattern() -> None:
    # Why `statistical` is only a baseline: every quiet Sunday is a "drop" from the 28-day mean.
    found = detect(quiet_sundays(0), START, "statistical", min_impact_usd=10)
    assert len(found) >= 10
    assert all(d.direction == "down" and d.index % 7 == 6 for d in found)


@pytest.mark.parametrize("method", ["auto", "seasonal"])
def test_a_spike_the_day_after_another_is_a_second_anomaly(method: str) -> None:
    # Two days of a runaway job are two anomalies: on the second day nobody knows yet whether it will last.
    series = business_week(seed=3)
    series[[70, 71]] *= [2.6, 1.6]
    found = detect(series, START, method, min_impact_usd=10)  # type: ignore[arg-type]
    assert [(d.index, d.direction) for d in found] == [(70, "up"), (71, "up")]


def test_a_level_shift_is_reported_on_its_first_two_days_not_every_day() -> None:
    series = business_week(120, seed=4)
    series[80:] *= 1.8
    found = detect(series, START, min_impact_usd=10)
    assert [(d.index, d.direction) for d in found] == [(80, "up"), (81, "up")]


def test_a_three_day_outage_is_news_for_two_days_then_a_lasting_change() -> None:
    series = business_week(seed=5)
    series[60:63] *= 0.1
    found = detect(series, START, min_impact_usd=10)
    assert [(d.index, d.direction) for d in found] == [(60, "down"), (61, "down")]


@pytest.mark.parametrize(
    ("z", "reported"),
    [
        ([0, 3, 3, 3, 3, 3, 0], [3]),  # a small shift, each day under the limit: reported once it has lasted
        ([0, 6, 6, 6, 6, 0], [1, 2]),  # a large one: its first two days, then it is a level shift
        ([0, 6, 0, 6, 0, 6], [1, 3, 5]),  # separate spikes are separate anomalies
        ([0, 6, 3, 3, 6, 0], [1]),  # days beyond 2.5 in between: the same lasting change
        ([0, 3, 3, 6, 6, 0], [3]),  # beyond the limit only on the day it has lasted: reported once
        ([0, 6, -6, 0], [1, 2]),  # up then down: two anomalies
    ],
)
def test_the_report_rule_for_runs_of_unusual_days(z: list[float], reported: list[int]) -> None:
    _, report = _report_flags(np.array([z], dtype=float), 4.0)
    assert np.flatnonzero(report[0]).tolist() == reported
    assert all(report[0, i] == np.sign(z[i]) for i in reported)


def test_a_sustained_moderate_shift_is_reported_once_or_twice_and_then_never() -> None:
    series = business_week(120, noise=0.05, seed=6)
    series[90:] *= 1.25
    found = detect(series, START, min_impact_usd=10)
    assert 1 <= len(found) <= 2
    assert all(90 <= d.index <= 92 and d.direction == "up" for d in found)
    assert all(d.severity in ("low", "medium") for d in found)


@pytest.mark.parametrize("method", ["auto", "seasonal", "statistical"])
def test_days_before_the_first_spend_are_no_history(method: str) -> None:
    # A tenant that started 75 days ago, asked about with 120 days of history: the 45 days before its first
    # spend are not 45 days of zero spend (they made its first baselines absurd and hid spikes for weeks).
    spend = business_week(75, seed=8)
    spend[[40, 55, 56]] *= [1.6, 2.0, 1.7]
    padded = np.concatenate([np.zeros(45), spend])
    alone = detect(spend, START, method, min_impact_usd=10)  # type: ignore[arg-type]
    within = detect(padded, START - timedelta(days=45), method, min_impact_usd=10)  # type: ignore[arg-type]
    assert [(d.index - 45, d.day, d.expected, d.score) for d in within] == [
        (d.index, d.day, d.expected, d.score) for d in alone
    ]
    if method != "statistical":
        assert {40, 55, 56} <= {d.index for d in alone}


spiky_series = st.tuples(
    st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=60), st.integers(0, 6)
)


@settings(max_examples=15, deadline=None)
@given(params=spiky_series, first=st.integers(min_value=0, max_value=40), length=st.integers(0, 40))
def test_a_days_verdict_is_the_same_for_any_range_that_includes_it(
    params: tuple[int, int, int], first: int, length: int
) -> None:
    # The 03:00 job asks about yesterday alone; a user asks a week later about the month: same answer.
    seed, leading_zeros, spikes = params
    rng = np.random.default_rng(seed)
    spend = np.concatenate([np.zeros(leading_zeros), business_week(200 - leading_zeros, seed=seed)])
    spend[rng.integers(leading_zeros, 200, spikes)] *= rng.uniform(1.5, 3.0, spikes)
    origin = START - timedelta(days=START.weekday())  # a Monday, so that every history_start is inside
    start = origin + timedelta(days=98 + first)
    end = start + timedelta(days=length)
    assert history_start(start) >= origin
    ranged = detect_range(spend[None, :], origin, start, end, min_impact_usd=1)[0]
    for d in ranged:
        assert start <= d.day <= end  # type: ignore[operator]
    days = sorted({start + timedelta(days=i) for i in range(0, length + 1, 3)} | {end})
    for day in days:
        alone = detect_range(spend[None, :], origin, day, day, min_impact_usd=1)[0]
        assert alone == [d for d in ranged if d.day == day]


def test_a_new_weekly_shape_after_a_new_service_is_reported_once() -> None:
    # A flat always-on service joins a business-days series: the weekends are new, but only once.
    series = business_week(140, seed=7)
    series[84:] += 600
    found = detect(series, START, min_impact_usd=10)
    assert found[0].index == 84 and found[0].direction == "up"
    assert len([d for d in found if d.index > 91]) <= 1


def test_threshold_flags_days_above_the_limit() -> None:
    series = np.full(30, 100.0)
    series[[5, 20]] = [130.0, 300.0]
    found = detect(series, START, "threshold", threshold_limit=120, min_impact_usd=1)
    assert [(d.index, d.severity, d.expected, d.method) for d in found] == [
        (5, "low", 120, "threshold"),
        (20, "high", 120, "threshold"),
    ]
    assert found[1].score == pytest.approx(2.5)
    with pytest.raises(ValueError, match="threshold_limit"):
        detect(series, START, "threshold")


def test_score_from_only_reports_later_days() -> None:
    series = business_week()
    series[[50, 89]] *= 3
    assert [d.index for d in detect(series, START, score_from=89)] == [89]


def test_a_young_series_only_flags_days_outside_everything_seen() -> None:
    series = business_week(12)
    assert detect(series, START, min_impact_usd=10) == []  # its first weekend is no drop
    series[10] = 5000
    d = on(detect(series, START, min_impact_usd=10), 10)
    assert d.method == "robust_flat"
    assert detect(series, START, "seasonal", min_impact_usd=10) == []  # needs two weeks


def test_dates_must_be_consecutive() -> None:
    days = [START + timedelta(days=i) for i in range(30)]
    detect(np.ones(30), days)
    with pytest.raises(ValueError, match="consecutive"):
        detect(np.ones(30), [*days[:10], *days[11:], days[-1] + timedelta(days=1)])
    with pytest.raises(ValueError, match="dates"):
        detect(np.ones(30), days[:29])


def test_severity_bands_are_the_seeds() -> None:
    assert [severity_of(x) for x in (0.05, 0.10, 0.11, 0.25, 0.26, 0.5, 0.51, -0.6)] == [
        None,
        None,
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


series_strategy = st.integers(min_value=0, max_value=70).flatmap(
    lambda n: arrays(np.float64, n, elements=st.floats(min_value=0, max_value=1e5, allow_nan=False, width=32))
)


@settings(max_examples=40, deadline=None)
@given(series=series_strategy, method=st.sampled_from(["auto", "seasonal", "statistical"]))
def test_a_days_answer_never_depends_on_later_days(series: np.ndarray, method: str) -> None:
    # What the daily job reports for a day is what a re-run over any later range reports for it.
    full = detect(series, START, method, min_impact_usd=1)  # type: ignore[arg-type]
    for cut in range(len(series) - 3, len(series) + 1):
        if cut <= 0:
            continue
        prefix = detect(series[:cut], START, method, min_impact_usd=1)  # type: ignore[arg-type]
        assert prefix == [d for d in full if d.index < cut]


@settings(max_examples=40, deadline=None)
@given(series=series_strategy)
def test_detections_are_well_formed(series: np.ndarray) -> None:
    for d in detect(series, START, min_impact_usd=1):
        assert d.direction == ("up" if d.actual > d.expected else "down")
        assert abs(d.impact) >= 1
        assert d.deviation_percent is None or abs(d.deviation_percent) > 10
        assert d.severity == (severity_of(d.impact / d.expected) if d.expected > 0 else "high")
        assert d.score > 0


def test_detect_many_answers_each_row_as_detect_does() -> None:
    rows = np.array([business_week(seed=s) for s in range(5)])
    rows[1, 70] *= 3
    rows[3, 80] *= 0.2
    many = detect_many(rows, START, min_impact_usd=10)
    assert many == [detect(row, START, min_impact_usd=10) for row in rows]
    assert 70 in [d.index for d in many[1]]
    assert 80 in [d.index for d in many[3]]


def test_root_cause_picks_the_driver_with_its_share() -> None:
    baseline = {"model": {"gpt-4o": 600.0, "claude": 400.0}, "region": {"us-east-1": 1000.0}}
    day = {"model": {"gpt-4o": 2600.0, "claude": 420.0}, "region": {"us-east-1": 3020.0}}
    causes = root_cause(day, baseline, expected_total=1000.0)
    top = causes[0]
    assert (top.dimension, top.value, top.new) == ("region", "us-east-1", False) or top.value == "gpt-4o"
    gpt = next(c for c in causes if c.value == "gpt-4o")
    assert gpt.change == pytest.approx(2000)
    assert gpt.share == pytest.approx(2000 / 2020)
    assert all(c.value != "claude" for c in causes)  # 1% of the difference: not a driver


def test_root_cause_flags_values_first_seen_on_the_day() -> None:
    baseline = {"service": {"compute": 500.0, "storage": 500.0}}
    day = {"service": {"compute": 520.0, "storage": 480.0, "vector-db": 900.0, "test-probe": 1.0}}
    causes = root_cause(day, baseline)
    assert causes[0].value == "vector-db" and causes[0].new
    assert causes[0].share == pytest.approx(900 / 901)
    assert not any(c.value == "test-probe" for c in causes)  # new but negligible


def test_root_cause_rescales_the_baseline_to_the_expected_total() -> None:
    # A Saturday: the detector expected 400 (weekday mean 1000); the baseline's mix is kept, its size is not.
    baseline = {"service": {"compute": 800.0, "storage": 200.0}}
    day = {"service": {"compute": 320.0, "storage": 880.0}}
    causes = root_cause(day, baseline, expected_total=400.0)
    storage = next(c for c in causes if c.value == "storage")
    assert storage.expected == pytest.approx(80)
    assert storage.share == pytest.approx(800 / 800)
    shares = sum(c.share for c in root_cause(day, baseline, expected_total=400.0, per_dimension=5))
    assert shares == pytest.approx(1.0)
