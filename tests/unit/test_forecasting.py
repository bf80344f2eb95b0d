"""The forecasting engine: invariants (property-based), behaviour on shaped series, errors and helpers."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from finops.errors import InvalidRequest
from finops.forecasting import METHODS, MIN_HISTORY_DAYS, Forecast, InsufficientHistory, forecast, methods
from finops.forecasting.stats import Z95, normal_cdf, normal_ppf, student_t_ppf

WEEK = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.45, 0.4])


def business_week(days: int, level: float = 1000.0, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level * WEEK[np.arange(days) % 7] * np.exp(rng.normal(0, noise, days))


def assert_well_formed(f: Forecast, horizon: int) -> None:
    for band in (f.values, f.lower80, f.upper80, f.lower95, f.upper95):
        assert band.shape == (horizon,)
        assert np.all(np.isfinite(band))
    assert np.all(f.lower95 >= 0)
    assert np.all(f.lower95 <= f.lower80 + 1e-9)
    assert np.all(f.lower80 <= f.values + 1e-9)
    assert np.all(f.values <= f.upper80 + 1e-9)
    assert np.all(f.upper80 <= f.upper95 + 1e-9)
    t = f.total
    assert t.value == pytest.approx(float(f.values.sum()), rel=1e-9, abs=1e-9)
    assert 0 <= t.lower95 <= t.lower80 <= t.value <= t.upper80 <= t.upper95


histories = st.integers(min_value=MIN_HISTORY_DAYS, max_value=120).flatmap(
    lambda n: arrays(np.float64, n, elements=st.floats(min_value=0, max_value=1e6, allow_nan=False, width=32))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, horizon=st.integers(min_value=1, max_value=60), method=st.sampled_from(METHODS))
def test_any_usable_history_gives_ordered_non_negative_intervals_and_consistent_totals(
    history: np.ndarray, horizon: int, method: str
) -> None:
    history[0] = max(history[0], 1.0)  # spend from the first day: the whole array is history
    f = forecast(history, horizon, method)  # type: ignore[arg-type]
    assert_well_formed(f, horizon)
    assert f.method == method
    assert f.history_days == len(history)


@settings(max_examples=25, deadline=None)
@given(history=histories, method=st.sampled_from(METHODS))
def test_forecasts_are_deterministic(history: np.ndarray, method: str) -> None:
    history[0] = max(history[0], 1.0)
    first = forecast(history.copy(), 30, method)  # type: ignore[arg-type]
    second = forecast(history.copy(), 30, method)  # type: ignore[arg-type]
    for name in ("values", "lower80", "upper80", "lower95", "upper95"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.total == second.total
    assert first.accuracy == second.accuracy


@settings(max_examples=25, deadline=None)
@given(history=histories, horizon=st.integers(min_value=2, max_value=90))
def test_total_interval_sits_between_independent_and_fully_correlated_days(history: np.ndarray, horizon: int) -> None:
    # Errors of one forecast are positively correlated (a misjudged level moves every day): the total's
    # half-width is above the independent-days bound and never above the fully correlated one.
    history[0] = max(history[0], 1.0)
    f = forecast(history, horizon, "auto")
    half = f.upper95 - f.values
    total_half = f.total.upper95 - f.total.value
    assert total_half >= math.sqrt(float(np.sum(half**2))) * (1 - 1e-9)
    assert total_half <= float(half.sum()) * (1 + 1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_a_flat_series_gives_narrow_intervals(method: str) -> None:
    history = 500 * np.exp(np.random.default_rng(1).normal(0, 0.01, 90))
    f = forecast(history, 14, method)  # type: ignore[arg-type]
    assert np.all(np.abs(f.values - 500) < 25)
    assert np.all(f.upper95 - f.lower95 < 0.15 * 500)


@pytest.mark.parametrize("method", ["auto", "seasonal", "seasonal_naive"])
def test_a_weekly_pattern_is_forecast_with_the_pattern(method: str) -> None:
    history = business_week(90)
    f = forecast(history, 28, method)  # type: ignore[arg-type]
    expected = 1000 * WEEK[np.arange(90, 118) % 7]
    assert np.corrcoef(f.values, expected)[0, 1] > 0.95
    assert np.mean(np.abs(f.values - expected) / expected) < 0.1


@pytest.mark.parametrize("method", ["auto", "seasonal", "moving_average", "linear"])
@pytest.mark.parametrize("spike_day", [40, 84, 89])
def test_a_one_day_spike_in_the_history_does_not_wreck_the_forecast(method: str, spike_day: int) -> None:
    clean = business_week(90, seed=3)
    spiked = clean.copy()
    spiked[spike_day] *= 10
    before = forecast(clean, 30, method)  # type: ignore[arg-type]
    after = forecast(spiked, 30, method)  # type: ignore[arg-type]
    assert after.total.value == pytest.approx(before.total.value, rel=0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_frequent_bursts_do_not_drag_auto_up(seed: int) -> None:
    # Bursts (x4) on 15% of days are too many to be cleaned as outliers: the robust candidates (weekday
    # medians, a median level) must carry auto, not the means every burst pulls up.
    history = business_week(90, seed=seed)
    history[np.random.default_rng(seed).random(90) < 0.15] *= 4
    f = forecast(history, 28)
    typical = 1000 * WEEK[np.arange(90, 118) % 7]
    assert f.weights["weekday_median"] + f.weights["robust_profile"] > 0.5
    assert f.values.sum() < 1.3 * typical.sum()


def test_the_simple_seasonal_candidates_repeat_each_weekdays_median_and_mean() -> None:
    # Four weeks in which each weekday has one odd day: the median ignores it, the mean does not.
    weeks = np.tile(np.arange(1.0, 8.0), (4, 1))
    weeks[1] *= 10
    y = weeks.ravel()
    origins = np.array([28])
    median = methods.weekday_median_paths(y, origins, 10)[0]
    mean = methods.weekday_mean_paths(y, origins, 10)[0]
    expected_median = np.arange(1.0, 8.0)[np.arange(10) % 7]
    assert median == pytest.approx(expected_median)
    assert mean == pytest.approx(expected_median * 13 / 4)
    # An origin with only two weeks behind it uses those two.
    assert methods.weekday_median_paths(y, np.array([14]), 7)[0] == pytest.approx(np.arange(1.0, 8.0) * 5.5)


def test_an_outage_in_the_history_does_not_wreck_the_forecast() -> None:
    clean = business_week(90, seed=4)
    broken = clean.copy()
    broken[60:62] = 0.0
    assert forecast(broken, 30).total.value == pytest.approx(forecast(clean, 30).total.value, rel=0.1)


def test_a_level_shift_is_followed() -> None:
    history = business_week(90, seed=5)
    history[69:] *= 2  # three weeks at the new level
    f = forecast(history, 28)
    expected = 2000 * WEEK[np.arange(90, 118) % 7]
    assert f.total.value == pytest.approx(float(expected.sum()), rel=0.15)


def test_linear_follows_a_straight_trend_with_textbook_intervals() -> None:
    days = np.arange(60)
    history = 100 + 2.0 * days + np.random.default_rng(6).normal(0, 1, 60)
    f = forecast(history, 10, "linear")
    np.testing.assert_allclose(f.values, 100 + 2.0 * np.arange(60, 70), rtol=0.02)
    # About 2 standard errors of a noise of 1, a little more further out (parameter uncertainty).
    half = f.upper95 - f.values
    assert 1.8 < half[0] < 3.0
    assert np.all(np.diff(half) > 0)


@pytest.mark.parametrize(
    ("history", "got"), [(np.ones(10), 10), (np.zeros(90), 0), (np.r_[np.zeros(80), np.ones(10)], 10)]
)
def test_too_little_history_raises_a_422_saying_how_much_is_needed(history: np.ndarray, got: int) -> None:
    with pytest.raises(InsufficientHistory) as raised:
        forecast(history, 30)
    assert raised.value.needed_days == MIN_HISTORY_DAYS
    assert raised.value.got_days == got
    assert isinstance(raised.value, InvalidRequest)
    assert raised.value.status_code == 422
    assert f"at least {MIN_HISTORY_DAYS} days" in raised.value.message


def test_leading_zeros_before_the_first_spend_are_not_history() -> None:
    history = np.r_[np.zeros(40), business_week(50)]
    assert forecast(history, 7).history_days == 50


def test_bad_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="horizon"):
        forecast(np.ones(30), 0)
    with pytest.raises(ValueError, match="NaN"):
        forecast(np.r_[np.ones(30), np.nan], 7)
    with pytest.raises(ValueError, match="method"):
        forecast(np.ones(30), 7, "prophet")  # type: ignore[arg-type]


def test_negative_days_count_as_zero_spend() -> None:
    history = business_week(60)
    credited = history.copy()
    credited[30] = -500.0
    zeroed = history.copy()
    zeroed[30] = 0.0
    np.testing.assert_array_equal(forecast(credited, 7).values, forecast(zeroed, 7).values)


def test_points_are_dated_from_the_start_date() -> None:
    start = date(2026, 3, 1)
    points = forecast(business_week(60), 5, start_date=start).points()
    assert [p.day for p in points] == [start + timedelta(days=i) for i in range(5)]
    assert forecast(business_week(60), 2).points()[0].day is None


def test_auto_reports_its_weights_and_backtest_accuracy() -> None:
    f = forecast(business_week(90), 30)
    assert f.method == "auto"
    assert set(f.weights) == {
        "seasonal",
        "weekly_profile",
        "robust_profile",
        "seasonal_naive",
        "weekday_median",
        "weekday_mean",
    }
    assert sum(f.weights.values()) == pytest.approx(1.0)
    acc = f.accuracy
    assert acc.mape is not None and 0 < acc.mape < 20
    assert 0 < acc.smape < 20
    assert acc.mase is not None and acc.mase > 0
    assert acc.coverage95 is not None and 0.8 <= acc.coverage95 <= 1
    assert acc.origins > 10 and acc.horizon_days == 28 and acc.points > 100


def test_mape_is_undefined_when_the_history_has_zero_days() -> None:
    history = business_week(60)
    history[::7] = 0.0  # a closed day every week
    acc = forecast(history, 7, "seasonal_naive").accuracy
    assert acc.mape is None
    assert acc.smape > 0


def test_a_flat_series_reaches_an_amount_before_it_exceeds_it() -> None:
    f = forecast(np.full(60, 10.0), 30)
    assert f.expected_crossing(250.0) == 25  # $250 reached on day 25 (index 24), exceeded on day 26


def test_probability_of_exceeding_and_expected_crossing() -> None:
    f = forecast(business_week(90), 30)
    assert f.probability_total_exceeds(f.total.value) == pytest.approx(0.5)
    assert f.probability_total_exceeds(f.total.upper95) < 0.05
    assert f.probability_total_exceeds(f.total.lower95) > 0.95
    half = float(f.values.sum()) / 2
    crossing = f.expected_crossing(half)
    assert crossing is not None
    assert np.cumsum(f.values)[crossing] > half >= (np.cumsum(f.values)[crossing - 1] if crossing else 0)
    assert f.expected_crossing(f.total.value * 2) is None


def test_normal_and_student_quantiles() -> None:
    assert normal_ppf(0.975) == pytest.approx(Z95, abs=1e-8)
    assert normal_ppf(0.001) == pytest.approx(-3.090232306, abs=1e-7)
    assert normal_ppf(0.5) == pytest.approx(0.0, abs=1e-12)
    assert normal_cdf(normal_ppf(0.3)) == pytest.approx(0.3, abs=1e-9)
    assert student_t_ppf(0.975, 10) == pytest.approx(2.228139, abs=2e-3)
    assert student_t_ppf(0.975, 30) == pytest.approx(2.042272, abs=1e-4)
    assert student_t_ppf(0.9, 12) == pytest.approx(1.356217, abs=1e-4)
    with pytest.raises(ValueError):
        normal_ppf(1.0)


def test_forecasting_several_horizons_at_once_gives_exactly_each_forecast():
    """The daily check forecasts every budget period of a series in one call: it must change no figure."""
    import numpy as np

    from finops.forecasting.engine import forecast, forecast_horizons

    rng = np.random.default_rng(7)
    history = np.array([120 * (1.3 if d % 7 < 5 else 0.8) * rng.uniform(0.9, 1.1) for d in range(90)])
    horizons = [1, 5, 14, 15, 31, 92, 366]
    together = forecast_horizons(history, horizons)
    for horizon in horizons:
        alone = forecast(history, horizon)
        assert np.array_equal(alone.values, together[horizon].values)
        assert np.array_equal(alone.upper95, together[horizon].upper95)
        assert alone.total == together[horizon].total and alone.weights == together[horizon].weights
