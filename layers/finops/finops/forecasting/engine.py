"""`forecast()`: daily spend forecasts with 80%/95% intervals, a period total and their own backtest accuracy.

See the package docstring for the methods and the choices behind them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, get_args

import numpy as np

from finops.errors import InvalidRequest
from finops.forecasting import methods
from finops.forecasting.robust import SEASON, clean_history, weighted_quantile_fit
from finops.forecasting.stats import Z80, Z95, normal_cdf, student_t_ppf

Method = Literal["auto", "linear", "moving_average", "seasonal", "seasonal_naive"]
METHODS: tuple[str, ...] = get_args(Method)

MIN_HISTORY_DAYS = 14
# Backtest: origins from day WARMUP_DAYS on (fewer for short histories), forecasts up to this many days ahead.
WARMUP_DAYS = 28
BACKTEST_HORIZON = 28
# `auto` judges its candidates on forecasts up to this many days ahead (or the horizon, if shorter).
SELECTION_HORIZON = 14
# `auto` weights each candidate by 1 / MAE ** WEIGHT_POWER: 2 leans towards the best candidate more than 1
# does, while still averaging candidates that score alike (bench/ACCURACY.md has the sensitivity table).
WEIGHT_POWER = 2.0
# The simple candidates' windows: each weekday over this many weeks; the median level over this many days.
WEEKDAY_WINDOW_WEEKS = 4
ROBUST_LEVEL_DAYS = 14
# The correlated share of the error when the history is too short to measure it (see _total_sd).
PRIOR_LEVEL_SHARE = 0.25
# Intervals are never narrower than this share of the recent level: no history proves spend is certain.
MIN_RELATIVE_SD = 0.01
# Backtest errors are optimistic (the parameters, weekday factors and outlier cleaning saw the whole history)
# and the future holds breaks the history did not (a new service, a level shift): the intervals are widened
# by these factors, measured on the accuracy bench (seed 1, checked on seed 2; bench/ACCURACY.md). The total
# needs more, growing with the horizon, as a break moves every remaining day of the period.
DAILY_WIDENING = 1.3
TOTAL_WIDENING = 1.45
TOTAL_WIDENING_PER_DAY = 0.025


class InsufficientHistory(InvalidRequest):
    """Fewer than MIN_HISTORY_DAYS days since the first day with spend (or no spend at all): a 422."""

    def __init__(self, needed_days: int, got_days: int) -> None:
        self.needed_days = needed_days
        self.got_days = got_days
        super().__init__(
            f"A forecast needs at least {needed_days} days of spend history; this series has {got_days} "
            f"day{'s' if got_days != 1 else ''} since its first day with spend."
        )


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    day: date | None
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True, slots=True)
class ForecastTotal:
    """The sum over the horizon. `sd` is the standard deviation behind the 95% interval (before clipping)."""

    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float
    sd: float


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Rolling-origin backtest on the series' own history (see the package docstring for the protocol).

    Percentages are 0-100; coverage is a share 0-1. `mape` is None when an actual was zero (undefined there),
    `mase` when the history never changed week on week; `coverage95` is None with too little history.
    """

    mape: float | None
    smape: float
    mase: float | None
    coverage80: float | None
    coverage95: float | None
    origins: int
    horizon_days: int
    points: int


@dataclass(frozen=True, eq=False)
class Forecast:
    """Daily points as arrays (oldest first), the total, the method used and its backtest accuracy."""

    method: str
    values: np.ndarray
    lower80: np.ndarray
    upper80: np.ndarray
    lower95: np.ndarray
    upper95: np.ndarray
    total: ForecastTotal
    accuracy: Accuracy
    start_date: date | None
    history_days: int
    weights: dict[str, float] = field(default_factory=dict)  # `auto`: the weight of each combined method

    def __post_init__(self) -> None:
        # Frozen means frozen: the arrays are copies nobody else holds, made read-only.
        for name in ("values", "lower80", "upper80", "lower95", "upper95"):
            array = np.array(getattr(self, name), dtype=float)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def horizon(self) -> int:
        return len(self.values)

    def points(self) -> list[ForecastPoint]:
        days = [self.start_date + timedelta(days=i) if self.start_date else None for i in range(self.horizon)]
        rows = zip(
            days,
            self.values.tolist(),
            self.lower80.tolist(),
            self.upper80.tolist(),
            self.lower95.tolist(),
            self.upper95.tolist(),
            strict=True,
        )
        return [ForecastPoint(*row) for row in rows]

    def probability_total_exceeds(self, amount: float) -> float:
        """P(total over the horizon > amount), normal approximation of the total's forecast error."""
        if self.total.sd <= 0:
            return 1.0 if self.total.value > amount else 0.0
        return 1 - normal_cdf((amount - self.total.value) / self.total.sd)

    def expected_crossing(self, amount: float) -> int | None:
        """Index of the first day on which the expected cumulative spend exceeds `amount`, if any.

        Reaching the amount to within rounding is not exceeding it: the combined forecast of a flat $10/day
        is 10 + 4e-15, and $250 must not be "exceeded" on the 25th day."""
        above = np.flatnonzero(np.cumsum(self.values) > amount + 1e-9 * max(abs(amount), 1.0))
        return int(above[0]) if len(above) else None


def forecast(history: np.ndarray, horizon: int, method: Method = "auto", start_date: date | None = None) -> Forecast:
    """Forecast `horizon` days of spend after `history` (daily spend, oldest first, the last day complete).

    `start_date` is the first forecast day (the day after the history), used only to date the points.
    Raises InsufficientHistory (a 422) when there are fewer than 14 days since the first day with spend.
    """
    return forecast_horizons(history, [horizon], method, start_date)[horizon]


def forecast_horizons(
    history: np.ndarray, horizons: Sequence[int], method: Method = "auto", start_date: date | None = None
) -> dict[int, Forecast]:
    """`forecast` for several horizons of one series (the daily check forecasts budget periods of many lengths):
    exactly what `forecast` gives for each, with the candidates' paths computed once per `auto` judging
    horizon instead of once per horizon."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if not horizons or min(horizons) < 1:
        raise ValueError("horizon must be at least 1 day")
    raw = _usable_history(history)
    n = len(raw)
    y = clean_history(raw)[0]
    warmup = min(WARMUP_DAYS, max(SEASON, n // 2))
    hb = min(BACKTEST_HORIZON, n - warmup)
    origins = np.arange(warmup, n + 1)  # the last origin, n, is the forecast itself
    mase_scale = float(np.mean(np.abs(raw[SEASON:] - raw[:-SEASON])))
    if method == "linear":
        return {h: _linear(raw, y, origins, h, hb, start_date, mase_scale) for h in set(horizons)}
    # `auto` weighs its candidates on forecasts up to `judge` days ahead: horizons that judge alike share paths.
    groups: dict[int, list[int]] = {}
    for h in sorted(set(horizons)):
        groups.setdefault(min(h, SELECTION_HORIZON, hb), []).append(h)
    result = {}
    for judge, group in groups.items():
        span = max(max(group), hb)
        weights: dict[str, float] = {}
        if method == "moving_average":
            paths = methods.moving_average_paths(y, origins, span)
        elif method == "seasonal_naive":
            paths = methods.seasonal_naive_paths(y, origins, span)
        elif method == "seasonal":
            paths = methods.fit_holt_winters(y).paths(origins, span)
        else:
            paths, weights = _auto(y, origins, span, judge)
        paths = np.maximum(paths, 0.0)
        errors = _backtest_errors(raw, origins[:-1], paths[:-1, :hb])
        level = max(float(np.mean(y[-SEASON:])), 0.0)
        fit80 = _scale_fit(np.abs(errors), 0.80, Z80, level)
        fit95 = _scale_fit(np.abs(errors), 0.95, Z95, level)
        accuracy = _accuracy(raw, origins[:-1], paths[:-1, :hb], errors, mase_scale, level)
        for horizon in group:
            steps = np.arange(1, horizon + 1)
            values = paths[-1, :horizon]
            half80 = DAILY_WIDENING * Z80 * np.sqrt(fit80[0] + fit80[1] * steps)
            half95 = np.maximum(DAILY_WIDENING * Z95 * np.sqrt(fit95[0] + fit95[1] * steps), half80)
            share = _level_share(errors, fit95, horizon)
            widen = TOTAL_WIDENING + TOTAL_WIDENING_PER_DAY * min(horizon, 60)
            # Never wider than if every day were off by its full interval the same way (perfect correlation).
            sd80 = min(widen * _total_sd(fit80, share, horizon), float(half80.sum()) / Z80)
            sd95 = min(max(widen * _total_sd(fit95, share, horizon), sd80 * Z80 / Z95), float(half95.sum()) / Z95)
            result[horizon] = Forecast(
                method=method,
                values=values,
                lower80=np.maximum(values - half80, 0.0),
                upper80=values + half80,
                lower95=np.maximum(values - half95, 0.0),
                upper95=values + half95,
                total=_total(float(values.sum()), sd80, sd95),
                accuracy=accuracy,
                start_date=start_date,
                history_days=n,
                weights=weights,
            )
    return result


def _usable_history(history: np.ndarray) -> np.ndarray:
    raw = np.asarray(history, dtype=float)
    if raw.ndim != 1:
        raise ValueError("history must be a one-dimensional array of daily spend")
    if not np.all(np.isfinite(raw)):
        raise ValueError("history contains NaN or infinite values")
    # Credits can make a day negative; there is no negative spend to forecast.
    raw = np.maximum(raw, 0.0)
    spending = np.flatnonzero(raw > 0)
    got = 0 if len(spending) == 0 else len(raw) - int(spending[0])
    if got < MIN_HISTORY_DAYS:
        raise InsufficientHistory(MIN_HISTORY_DAYS, got)
    return np.asarray(raw[len(raw) - got :], dtype=float)


def _auto(y: np.ndarray, origins: np.ndarray, span: int, judge: int) -> tuple[np.ndarray, dict[str, float]]:
    """Combine the candidates with weights from their backtest errors on the cleaned history."""
    profile = methods.weekly_profile(y)
    candidates = {
        "seasonal": methods.fit_holt_winters(y).paths(origins, span),
        "weekly_profile": methods.profile_paths(y, origins, span, profile),
        "robust_profile": methods.robust_profile_paths(y, origins, span, profile, ROBUST_LEVEL_DAYS),
        "seasonal_naive": methods.seasonal_naive_paths(y, origins, span),
        "weekday_median": methods.weekday_median_paths(y, origins, span, WEEKDAY_WINDOW_WEEKS),
        "weekday_mean": methods.weekday_mean_paths(y, origins, span, WEEKDAY_WINDOW_WEEKS),
    }
    mae = {}
    for name, paths in candidates.items():
        err = _backtest_errors(y, origins[:-1], np.maximum(paths[:-1, :judge], 0.0))
        mae[name] = float(np.nanmean(np.abs(err))) if np.any(~np.isnan(err)) else math.inf
    inverse = {name: max(value, 1e-12) ** -WEIGHT_POWER for name, value in mae.items() if math.isfinite(value)}
    if not inverse:
        inverse = dict.fromkeys(candidates, 1.0)
    norm = sum(inverse.values())
    weights = {name: value / norm for name, value in inverse.items()}
    combined = sum(weights[name] * candidates[name] for name in weights)
    return np.asarray(combined, dtype=float), weights


def _backtest_errors(actual: np.ndarray, origins: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """actual - forecast for every (origin, step) whose day is in the history; NaN beyond it."""
    target = origins[:, None] + np.arange(paths.shape[1])[None, :]
    inside = target < len(actual)
    return np.where(inside, actual[np.minimum(target, len(actual) - 1)] - paths, np.nan)


def _scale_fit(abs_err: np.ndarray, q: float, z: float, level: float) -> tuple[float, float]:
    """(a, b) with the forecast error's variance at step h modelled as a + b*h, from backtest quantiles."""
    a, b, used = weighted_quantile_fit(abs_err, q, z)
    floor = (MIN_RELATIVE_SD * level) ** 2
    if used == 0 or not math.isfinite(a):
        pooled = abs_err[~np.isnan(abs_err)]
        a = float(np.quantile(pooled, q) / z) ** 2 if len(pooled) else floor
        b = 0.0
    return max(a, floor), b


def _level_share(errors: np.ndarray, fit: tuple[float, float], horizon: int) -> float:
    """Share of the step-1 error variance that persists across the horizon (a level error), from the data.

    Errors of one forecast are correlated: if the level is misjudged, every day is off the same way. The
    model cov(e_h, e_k) = L + b*min(h, k) (h != k), var(e_h) = a + b*h is fitted to the spread of the
    backtest's summed errors; L/a is returned, or a prior when too few whole windows exist.
    """
    a, b = fit
    width = min(horizon, errors.shape[1])
    if width < 2 or a <= 0:
        return PRIOR_LEVEL_SHARE
    sums = errors[:, :width]
    sums = sums[~np.isnan(sums).any(axis=1)].sum(axis=1)
    if len(sums) < 5:
        return PRIOR_LEVEL_SHARE
    var_sum = (float(np.quantile(np.abs(sums), 0.95)) / Z95) ** 2
    k = float(width)
    drift = b * k * (k + 1) * (2 * k + 1) / 6
    share = (var_sum - k * a - drift) / ((k * k - k) * a)
    return min(max(share, 0.0), 1.0)


def _total_sd(fit: tuple[float, float], share: float, horizon: int) -> float:
    a, b = fit
    k = float(horizon)
    level = share * a
    var = k * (a - level) + k * k * level + b * k * (k + 1) * (2 * k + 1) / 6
    return math.sqrt(max(var, 0.0))


def _total(value: float, sd80: float, sd95: float) -> ForecastTotal:
    value, sd80, sd95 = float(value), float(sd80), float(sd95)
    return ForecastTotal(
        value=value,
        lower80=max(value - Z80 * sd80, 0.0),
        upper80=value + Z80 * sd80,
        lower95=max(value - Z95 * sd95, 0.0),
        upper95=value + Z95 * sd95,
        sd=sd95,
    )


def _accuracy(
    raw: np.ndarray,
    origins: np.ndarray,
    paths: np.ndarray,
    errors: np.ndarray,
    mase_scale: float,
    level: float,
    half95: np.ndarray | None = None,
    half80: np.ndarray | None = None,
) -> Accuracy:
    """Error measures over all backtest points; coverage of intervals fitted on the earlier half only.

    Intervals fitted on the very errors they are checked against would cover 95% by construction, so the
    coverage reported is out of sample: the scale is fitted on errors of the first half of the origins
    (whose days all precede the second half's origins) and checked on the second half.
    """
    mask = ~np.isnan(errors)
    actual = (paths + errors)[mask]
    predicted = paths[mask]
    abs_err = np.abs(errors[mask])
    denom = np.abs(actual) + np.abs(predicted)
    smape = float(np.mean(np.where(denom > 0, 200 * abs_err / np.where(denom > 0, denom, 1), 0.0)))
    mape = float(100 * np.mean(abs_err / actual)) if np.all(actual > 0) else None
    mase = float(np.mean(abs_err) / mase_scale) if mase_scale > 0 else None
    if half95 is None or half80 is None:
        cov80, cov95 = _holdout_coverage(errors, origins, level)
    else:
        inside95 = (np.abs(errors) <= half95)[mask]
        inside80 = (np.abs(errors) <= half80)[mask]
        cov80, cov95 = float(np.mean(inside80)), float(np.mean(inside95))
    return Accuracy(
        mape=mape,
        smape=smape,
        mase=mase,
        coverage80=cov80,
        coverage95=cov95,
        origins=len(origins),
        horizon_days=paths.shape[1],
        points=int(mask.sum()),
    )


def _holdout_coverage(errors: np.ndarray, origins: np.ndarray, level: float) -> tuple[float | None, float | None]:
    if len(origins) < 4:
        return None, None
    cut = int(origins[len(origins) // 2])
    # Errors known at the cut: their day is before it.
    days = origins[:, None] + np.arange(errors.shape[1])[None, :]
    known = np.where(days < cut, errors, np.nan)
    later = errors[origins >= cut]
    if np.all(np.isnan(known)) or np.all(np.isnan(later)):
        return None, None
    steps = np.arange(1, errors.shape[1] + 1)
    covered = []
    for q, z in ((0.80, Z80), (0.95, Z95)):
        a, b = _scale_fit(np.abs(known), q, z, level)
        half = DAILY_WIDENING * z * np.sqrt(a + b * steps)
        inside = np.abs(later) <= half[None, :]
        covered.append(float(np.mean(inside[~np.isnan(later)])))
    return covered[0], covered[1]


def _linear(
    raw: np.ndarray,
    y: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    hb: int,
    start_date: date | None,
    mase_scale: float,
) -> Forecast:
    """Least squares on the (cleaned) history with the textbook prediction intervals (Student t)."""
    fit = methods.linear_paths(y, origins, max(horizon, hb))
    t80 = np.array([student_t_ppf(0.90, float(d)) for d in fit.dof])
    t95 = np.array([student_t_ppf(0.975, float(d)) for d in fit.dof])
    values = np.maximum(fit.values[-1, :horizon], 0.0)
    half80 = t80[-1] * fit.se[-1, :horizon]
    half95 = t95[-1] * fit.se[-1, :horizon]
    total_value = float(values.sum())
    total_se = float(fit.total_se[-1, horizon - 1])
    total = _total(total_value, total_se * t80[-1] / Z80, total_se * t95[-1] / Z95)
    paths = np.maximum(fit.values[:-1, :hb], 0.0)
    errors = _backtest_errors(raw, origins[:-1], paths)
    # Each origin's own textbook interval: out of sample by construction.
    accuracy = _accuracy(
        raw,
        origins[:-1],
        paths,
        errors,
        mase_scale,
        0.0,
        half95=t95[:-1, None] * fit.se[:-1, :hb],
        half80=t80[:-1, None] * fit.se[:-1, :hb],
    )
    return Forecast(
        method="linear",
        values=values,
        lower80=np.maximum(values - half80, 0.0),
        upper80=values + half80,
        lower95=np.maximum(values - half95, 0.0),
        upper95=values + half95,
        total=total,
        accuracy=accuracy,
        start_date=start_date,
        history_days=len(raw),
    )
