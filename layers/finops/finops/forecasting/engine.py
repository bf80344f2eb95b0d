"""`forecast()`: daily spend forecasts with 80%/95% intervals, a period total and their own backtest accuracy.

`forecast_horizons` reads top-down, one stage after another, each stage a module of plain functions:
the history (validated here, cleaned by `robust`), the candidates' paths (`methods`, pure fits), the backtest
that weighs `auto`'s candidates and scores the forecast (`backtest`), and the intervals (`intervals`).
See the package docstring for the methods and the choices behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, get_args

import numpy as np

from finops.errors import InvalidRequest
from finops.forecasting import backtest, methods
from finops.forecasting.intervals import ErrorModel, coverage, holdout_coverage, student_t_quantiles
from finops.forecasting.robust import clean_history
from finops.forecasting.stats import SEASON, Z80, Z95, normal_cdf

Method = Literal["auto", "linear", "moving_average", "seasonal", "seasonal_naive"]
METHODS: tuple[str, ...] = get_args(Method)

MIN_HISTORY_DAYS = 14
# The tunables below were measured on the accuracy bench, which sets them here to measure their effect
# (bench/accuracy/real.py): the stages take them as arguments.
# `auto` judges its candidates on forecasts up to this many days ahead (or the horizon, if shorter).
SELECTION_HORIZON = 14
# `auto` weights each candidate by 1 / MAE ** WEIGHT_POWER: 2 leans towards the best candidate more than 1
# does, while still averaging candidates that score alike (bench/ACCURACY.md has the sensitivity table).
WEIGHT_POWER = 2.0
# The simple candidates' windows: each weekday over this many weeks; the median level over this many days.
WEEKDAY_WINDOW_WEEKS = 4
ROBUST_LEVEL_DAYS = 14
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

    @classmethod
    def of(cls, value: float, sd80: float, sd95: float) -> ForecastTotal:
        value, sd80, sd95 = float(value), float(sd80), float(sd95)
        return cls(
            value=value,
            lower80=max(value - Z80 * sd80, 0.0),
            upper80=value + Z80 * sd80,
            lower95=max(value - Z95 * sd95, 0.0),
            upper95=value + Z95 * sd95,
            sd=sd95,
        )


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

    @classmethod
    def of(cls, scores: backtest.Scores, coverage: tuple[float | None, float | None], origins: np.ndarray) -> Accuracy:
        return cls(
            mape=scores.mape,
            smape=scores.smape,
            mase=scores.mase,
            coverage80=coverage[0],
            coverage95=coverage[1],
            origins=len(origins),
            horizon_days=scores.horizon_days,
            points=scores.points,
        )


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
    # 1. The history: from its first day with spend, then cleaned of one-off spikes and outages for the fits.
    raw = _usable_history(history)
    y = clean_history(raw)[0]
    origins, steps = backtest.plan(len(raw))
    if method == "linear":
        return {h: _linear(raw, y, origins, steps, h, start_date) for h in set(horizons)}
    # `auto` weighs its candidates on forecasts up to `judge` days ahead: horizons that judge alike share paths.
    groups: dict[int, list[int]] = {}
    for h in sorted(set(horizons)):
        groups.setdefault(min(h, SELECTION_HORIZON, steps), []).append(h)
    result = {}
    for judge, group in groups.items():
        # 2. Fit each candidate, from every origin of the backtest at once.
        candidates = methods.candidate_paths(
            method,
            y,
            origins,
            max(max(group), steps),
            weekday_weeks=WEEKDAY_WINDOW_WEEKS,
            level_days=ROBUST_LEVEL_DAYS,
        )
        # 3. Backtest: `auto` weighs its candidates on the cleaned history; the forecast is scored on the raw one.
        if method == "auto":
            paths, weights = backtest.weigh(candidates, y, origins, judge, WEIGHT_POWER)
        else:
            paths, weights = candidates[method], {}
        paths = np.maximum(paths, 0.0)
        errors = backtest.errors(raw, origins[:-1], paths[:-1, :steps])
        scores = backtest.scores(raw, paths[:-1, :steps], errors)
        # 4. Intervals from the backtest's errors, and how well they would have covered.
        level = max(float(np.mean(y[-SEASON:])), 0.0)
        model = ErrorModel.fit(errors, level)
        accuracy = Accuracy.of(scores, holdout_coverage(errors, origins[:-1], level, DAILY_WIDENING), origins[:-1])
        for horizon in group:
            bands = model.bands(
                horizon,
                daily_widening=DAILY_WIDENING,
                total_widening=TOTAL_WIDENING + TOTAL_WIDENING_PER_DAY * min(horizon, 60),
            )
            values = paths[-1, :horizon]
            result[horizon] = Forecast(
                method=method,
                values=values,
                lower80=np.maximum(values - bands.half80, 0.0),
                upper80=values + bands.half80,
                lower95=np.maximum(values - bands.half95, 0.0),
                upper95=values + bands.half95,
                total=ForecastTotal.of(float(values.sum()), bands.total_sd80, bands.total_sd95),
                accuracy=accuracy,
                start_date=start_date,
                history_days=len(raw),
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


def _linear(
    raw: np.ndarray, y: np.ndarray, origins: np.ndarray, steps: int, horizon: int, start_date: date | None
) -> Forecast:
    """Least squares on the (cleaned) history with the textbook prediction intervals (Student t), the same
    stages as the other methods: fit, backtest, intervals."""
    fit = methods.linear_paths(y, origins, max(horizon, steps))
    paths = np.maximum(fit.values[:-1, :steps], 0.0)
    errors = backtest.errors(raw, origins[:-1], paths)
    scores = backtest.scores(raw, paths, errors)
    t80, t95 = student_t_quantiles(fit.dof)
    # Each origin's own textbook interval: out of sample by construction.
    covered = coverage(errors, t80[:-1, None] * fit.se[:-1, :steps], t95[:-1, None] * fit.se[:-1, :steps])
    values = np.maximum(fit.values[-1, :horizon], 0.0)
    half80 = t80[-1] * fit.se[-1, :horizon]
    half95 = t95[-1] * fit.se[-1, :horizon]
    total_se = float(fit.total_se[-1, horizon - 1])
    return Forecast(
        method="linear",
        values=values,
        lower80=np.maximum(values - half80, 0.0),
        upper80=values + half80,
        lower95=np.maximum(values - half95, 0.0),
        upper95=values + half95,
        total=ForecastTotal.of(float(values.sum()), total_se * t80[-1] / Z80, total_se * t95[-1] / Z95),
        accuracy=Accuracy.of(scores, covered, origins[:-1]),
        start_date=start_date,
        history_days=len(raw),
    )
