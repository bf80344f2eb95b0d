"""Forecast accuracy on real public daily series (bench/data/, sources and licences in its README).

Protocol (the issue's): for each series, 16 forecast origins spread evenly over the series, each forecasting
the 30 days after it from the 90 days before it. A single missing day is filled with the mean of its
neighbours (the Wikipedia page-view series miss a day now and then); windows with a longer gap are skipped.
Methods: the engine's, the simple baselines a user would try first, and statsforecast's models (in their
own environment, when it can be installed).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.accuracy import autoets
from bench.accuracy.forecasts import CLASSIC_SNAIVE, Scored, _score, classic_snaive
from bench.accuracy.generator import GeneratedSeries
from finops.forecasting import engine, forecast, robust

DATA = Path(__file__).resolve().parent.parent / "data"
HISTORY_DAYS = 90
HORIZON = 30
ORIGINS = 16
# (file, column, label, kind)
SERIES = (
    ("wikipedia_peyton_manning.csv", "views", "Wikipedia views: Peyton Manning", "page views"),
    ("wikipedia_r_language.csv", "views", "Wikipedia views: R (programming language)", "page views"),
    ("melbourne_pedestrians_sensor4.csv", "pedestrians", "Melbourne pedestrians, sensor 4", "traffic"),
    ("capital_bikeshare_daily.csv", "casual", "Capital Bikeshare, casual riders", "demand"),
    ("capital_bikeshare_daily.csv", "registered", "Capital Bikeshare, registered riders", "demand"),
)
ENGINE_METHODS = ("auto", "seasonal", "seasonal_naive", "moving_average", "linear")
WEEKDAY_MEDIAN = "weekday_median_4w"
WEEKDAY_MEAN = "weekday_mean_4w"
SIMPLE = (WEEKDAY_MEDIAN, WEEKDAY_MEAN, CLASSIC_SNAIVE)
STATSFORECAST = ("AutoETS", "AutoARIMA", "AutoTheta", "MSTL")
NO_INTERVALS = (WEEKDAY_MEDIAN, WEEKDAY_MEAN)


@dataclass(frozen=True, slots=True)
class RealSeries:
    label: str
    kind: str
    start: date
    values: np.ndarray
    origins: list[int]  # index of the first forecast day of each window


def _read(name: str, column: str) -> tuple[date, np.ndarray]:
    with (DATA / name).open() as f:
        rows = sorted((date.fromisoformat(r["date"]), float(r[column])) for r in csv.DictReader(f))
    start = rows[0][0]
    values = np.full((rows[-1][0] - start).days + 1, np.nan)
    for day, value in rows:
        values[(day - start).days] = value
    return start, values


def _fill_single_gaps(values: np.ndarray) -> np.ndarray:
    filled = values.copy()
    for i in np.flatnonzero(np.isnan(values)):
        if 0 < i < len(values) - 1 and not np.isnan(values[i - 1]) and not np.isnan(values[i + 1]):
            filled[i] = (values[i - 1] + values[i + 1]) / 2
    return filled


def load() -> list[RealSeries]:
    found = []
    for name, column, label, kind in SERIES:
        start, raw = _read(name, column)
        values = _fill_single_gaps(raw)
        usable = [
            o
            for o in range(HISTORY_DAYS, len(values) - HORIZON + 1)
            if not np.isnan(values[o - HISTORY_DAYS : o + HORIZON]).any()
        ]
        picks = np.linspace(0, len(usable) - 1, ORIGINS).round().astype(int)
        found.append(RealSeries(label, kind, start, values, [usable[i] for i in picks]))
    return found


def weekday_stat(history: np.ndarray, horizon: int, stat: Callable[..., np.ndarray]) -> np.ndarray:
    """Each weekday's median (or mean) over the last four weeks, repeated: the issue's simple baselines."""
    weeks = history[-28:].reshape(4, 7)
    return np.tile(stat(weeks, axis=0), horizon // 7 + 1)[:horizon]


def windows(series: list[RealSeries]) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    for i, s in enumerate(series):
        for origin in s.origins:
            yield i, origin, s.values[origin - HISTORY_DAYS : origin], s.values[origin : origin + HORIZON]


def evaluate(series: list[RealSeries], fitted: dict[str, autoets.AutoEtsForecasts] | None) -> list[Scored]:
    rows: list[Scored] = []
    no_bands = (np.full(HORIZON, np.nan),) * 4
    for k, (i, origin, history, actual) in enumerate(windows(series)):
        for method in ENGINE_METHODS:
            started = time.perf_counter()
            f = forecast(history, HORIZON, method)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            t = f.total
            bands = (f.lower80, f.upper80, f.lower95, f.upper95)
            totals = (t.lower80, t.upper80, t.lower95, t.upper95)
            rows.append(_score(method, i, origin, history, actual, f.values, bands, totals, seconds))
        for name, stat in ((WEEKDAY_MEDIAN, np.median), (WEEKDAY_MEAN, np.mean)):
            values = weekday_stat(history, HORIZON, stat)
            rows.append(_score(name, i, origin, history, actual, values, no_bands, None, math.nan))
        values, half80, half95 = classic_snaive(history, HORIZON)
        bands = (np.maximum(values - half80, 0), values + half80, np.maximum(values - half95, 0), values + half95)
        rows.append(_score(CLASSIC_SNAIVE, i, origin, history, actual, values, bands, None, math.nan))
        for model, result in (fitted or {}).items():
            bands = (
                np.maximum(result.lo80[k], 0.0),
                result.hi80[k],
                np.maximum(result.lo95[k], 0.0),
                result.hi95[k],
            )
            mean = np.maximum(result.mean[k], 0.0)
            rows.append(_score(model, i, origin, history, actual, mean, bands, None, float(result.seconds[k])))
    return rows


def run_statsforecast(series: list[RealSeries]) -> tuple[dict[str, autoets.AutoEtsForecasts] | None, str]:
    histories = np.array([h for _, _, h, _ in windows(series)])
    result = autoets.run_models(histories, HORIZON, STATSFORECAST)
    if isinstance(result, str):
        return None, result
    return result, next(iter(result.values())).version


# --- sensitivity: how the figures move when one constant moves -------------------------------------------

SENSITIVITY: tuple[tuple[str, Any, str, tuple[Any, ...]], ...] = (
    ("weight power (1/MAE^p)", engine, "WEIGHT_POWER", (1.0, 2.0, 3.0)),
    ("weeks of the weekday median/mean", engine, "WEEKDAY_WINDOW_WEEKS", (3, 4, 6, 8)),
    ("days of the median level", engine, "ROBUST_LEVEL_DAYS", (7, 14, 28)),
    ("days ahead auto judges candidates on", engine, "SELECTION_HORIZON", (7, 14, 28)),
    ("outlier cleaning threshold (robust SD)", robust, "OUTLIER_Z", (5.0, 7.0, 10.0)),
    ("daily interval widening", engine, "DAILY_WIDENING", (1.2, 1.3, 1.4)),
)


@contextmanager
def constant(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


@dataclass(frozen=True, slots=True)
class Sensitivity:
    label: str
    name: str
    value: Any
    current: bool
    real_smape: float
    real_coverage95: float
    generated_smape: float
    generated_coverage95: float


def _auto_scores(
    real_windows: list[tuple[np.ndarray, np.ndarray]], generated: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[float, float, float, float]:
    out = []
    for pairs in (real_windows, generated):
        smapes, inside, points = [], 0, 0
        for history, actual in pairs:
            f = forecast(history, len(actual))
            denom = np.abs(actual) + np.abs(f.values)
            ratio = np.where(denom > 0, 200 * np.abs(actual - f.values) / np.where(denom > 0, denom, 1), 0.0)
            smapes.append(float(np.mean(ratio)))
            inside += int(np.sum((actual >= f.lower95) & (actual <= f.upper95)))
            points += len(actual)
        out += [float(np.mean(smapes)), inside / points]
    return out[0], out[1], out[2], out[3]


def sensitivity(series: list[RealSeries], generated: list[GeneratedSeries]) -> list[Sensitivity]:
    """Auto's mean sMAPE and 95% coverage with each constant moved alone (the others at their values)."""
    real_windows = [(h, a) for _, _, h, a in windows(series)]
    generated_windows = [
        (g.values[o - HISTORY_DAYS : o], g.values[o : o + HORIZON]) for g in generated for o in (90, 105, 120)
    ]
    rows = []
    for label, module, name, values in SENSITIVITY:
        for value in values:
            with constant(module, name, value):
                scores = _auto_scores(real_windows, generated_windows)
            rows.append(Sensitivity(label, name, value, value == getattr(module, name), *scores))
    return rows
