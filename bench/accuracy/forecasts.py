"""Forecast accuracy over many generated series, origins and horizons, per method.

Protocol: each series has 150 days; forecasts are made at origins day 90, 105 and 120 from the 90 days before
(the endpoint's default history), for horizons 7, 14 and 30 days, and scored against the actual days that
followed, spikes and outages included. One forecast call per (series, origin, horizon, method).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bench.accuracy.autoets import AutoEtsForecasts
from bench.accuracy.generator import GeneratedSeries
from finops.forecasting import forecast
from finops.forecasting.stats import Z80, Z95

HISTORY_DAYS = 90
HORIZONS = (7, 14, 30)
ORIGINS = (90, 105, 120)
SERIES_DAYS = 150
ENGINE_METHODS = ("linear", "moving_average", "seasonal", "seasonal_naive", "auto")
CLASSIC_SNAIVE = "snaive_classic"
AUTOETS = "autoets"


@dataclass(slots=True)
class Scored:
    method: str
    series: int
    origin: int
    horizon: int
    smape: float
    mase: float  # NaN when the history never changed week on week
    mape: float  # NaN when an actual day is zero
    mae: float
    inside95: int
    inside80: int
    points: int
    total_in95: float  # 1/0, NaN when the method has no total interval
    total_in80: float
    seconds: float
    reported_smape: float = np.nan
    reported_coverage95: float = np.nan


def classic_snaive(history: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repeat the last week (raw), with the textbook interval: sd of weekly differences x sqrt(weeks ahead)."""
    values = np.tile(history[-7:], horizon // 7 + 1)[:horizon]
    sd = float(np.sqrt(np.mean((history[7:] - history[:-7]) ** 2)))
    weeks = np.floor(np.arange(horizon) / 7) + 1
    return values, Z80 * sd * np.sqrt(weeks), Z95 * sd * np.sqrt(weeks)


def _score(
    method: str,
    series: int,
    origin: int,
    history: np.ndarray,
    actual: np.ndarray,
    values: np.ndarray,
    bands: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    total: tuple[float, float, float, float] | None,
    seconds: float,
) -> Scored:
    lo80, hi80, lo95, hi95 = bands
    err = actual - values
    denom = np.abs(actual) + np.abs(values)
    smape = float(np.mean(np.where(denom > 0, 200 * np.abs(err) / np.where(denom > 0, denom, 1), 0.0)))
    scale = float(np.mean(np.abs(history[7:] - history[:-7])))
    mae = float(np.mean(np.abs(err)))
    mape = float(100 * np.mean(np.abs(err) / actual)) if np.all(actual > 0) else np.nan
    total_in95 = total_in80 = np.nan
    if total is not None:
        t_actual = float(actual.sum())
        total_in80 = float(total[0] <= t_actual <= total[1])
        total_in95 = float(total[2] <= t_actual <= total[3])
    return Scored(
        method=method,
        series=series,
        origin=origin,
        horizon=len(actual),
        smape=smape,
        mase=mae / scale if scale > 0 else np.nan,
        mape=mape,
        mae=mae,
        inside95=int(np.sum((actual >= lo95) & (actual <= hi95))),
        inside80=int(np.sum((actual >= lo80) & (actual <= hi80))),
        points=len(actual),
        total_in95=total_in95,
        total_in80=total_in80,
        seconds=seconds,
    )


def autoets_histories(series: list[GeneratedSeries]) -> np.ndarray:
    return np.array([s.values[o - HISTORY_DAYS : o] for s in series for o in ORIGINS])


def evaluate(series: list[GeneratedSeries], autoets: AutoEtsForecasts | None) -> list[Scored]:
    rows: list[Scored] = []
    for i, s in enumerate(series):
        for j, origin in enumerate(ORIGINS):
            history = s.values[origin - HISTORY_DAYS : origin]
            for horizon in HORIZONS:
                actual = s.values[origin : origin + horizon]
                for method in ENGINE_METHODS:
                    start = time.perf_counter()
                    f = forecast(history, horizon, method)  # type: ignore[arg-type]
                    seconds = time.perf_counter() - start
                    t = f.total
                    row = _score(
                        method,
                        i,
                        origin,
                        history,
                        actual,
                        f.values,
                        (f.lower80, f.upper80, f.lower95, f.upper95),
                        (t.lower80, t.upper80, t.lower95, t.upper95),
                        seconds,
                    )
                    row.reported_smape = f.accuracy.smape
                    row.reported_coverage95 = np.nan if f.accuracy.coverage95 is None else f.accuracy.coverage95
                    rows.append(row)
                values, half80, half95 = classic_snaive(history, horizon)
                bands = (
                    np.maximum(values - half80, 0),
                    values + half80,
                    np.maximum(values - half95, 0),
                    values + half95,
                )
                rows.append(_score(CLASSIC_SNAIVE, i, origin, history, actual, values, bands, None, np.nan))
                if autoets is not None:
                    k = i * len(ORIGINS) + j
                    mean = np.maximum(autoets.mean[k, :horizon], 0.0)
                    bands = (
                        np.maximum(autoets.lo80[k, :horizon], 0.0),
                        autoets.hi80[k, :horizon],
                        np.maximum(autoets.lo95[k, :horizon], 0.0),
                        autoets.hi95[k, :horizon],
                    )
                    rows.append(
                        _score(AUTOETS, i, origin, history, actual, mean, bands, None, float(autoets.seconds[k]))
                    )
    return rows


@dataclass(frozen=True, slots=True)
class Summary:
    method: str
    horizon: int | None  # None: all horizons
    forecasts: int
    smape: float
    mase: float
    mape_mean: float
    mape_median: float
    coverage95: float
    coverage80: float
    total_coverage95: float
    total_coverage80: float
    ms_median: float
    ms_p95: float
    rel_mae: float  # geometric mean of MAE / classic seasonal-naive MAE


def summarise(rows: list[Scored], method: str, horizon: int | None) -> Summary:
    picked = [r for r in rows if r.method == method and (horizon is None or r.horizon == horizon)]
    base = {(r.series, r.origin, r.horizon): r.mae for r in rows if r.method == CLASSIC_SNAIVE}
    ratios = [
        r.mae / base[(r.series, r.origin, r.horizon)]
        for r in picked
        if base[(r.series, r.origin, r.horizon)] > 0 and r.mae > 0
    ]
    arr = {
        name: np.array([getattr(r, name) for r in picked], dtype=float) for name in Scored.__slots__ if name != "method"
    }
    seconds = arr["seconds"][(arr["horizon"] == 30) & ~np.isnan(arr["seconds"])]
    return Summary(
        method=method,
        horizon=horizon,
        forecasts=len(picked),
        smape=float(np.mean(arr["smape"])),
        mase=float(np.nanmean(arr["mase"])),
        mape_mean=float(np.nanmean(arr["mape"])),
        mape_median=float(np.nanmedian(arr["mape"])),
        coverage95=float(arr["inside95"].sum() / arr["points"].sum()),
        coverage80=float(arr["inside80"].sum() / arr["points"].sum()),
        total_coverage95=float(np.nanmean(arr["total_in95"])) if np.any(~np.isnan(arr["total_in95"])) else np.nan,
        total_coverage80=float(np.nanmean(arr["total_in80"])) if np.any(~np.isnan(arr["total_in80"])) else np.nan,
        ms_median=float(np.median(seconds) * 1000) if len(seconds) else np.nan,
        ms_p95=float(np.quantile(seconds, 0.95) * 1000) if len(seconds) else np.nan,
        rel_mae=float(np.exp(np.mean(np.log(ratios)))) if ratios else np.nan,
    )


def paired_difference(
    rows: list[Scored], method: str, other: str, metric: str, seed: int = 0
) -> tuple[float, float, float]:
    """Mean per-series difference (method - other) of a metric, with a 95% bootstrap interval over series."""
    per: dict[str, dict[int, list[float]]] = {method: {}, other: {}}
    for r in rows:
        if r.method in per:
            value = getattr(r, metric)
            if not np.isnan(value):
                per[r.method].setdefault(r.series, []).append(value)
    common = sorted(set(per[method]) & set(per[other]))
    diffs = np.array([np.mean(per[method][s]) - np.mean(per[other][s]) for s in common])
    rng = np.random.default_rng(seed)
    boot = rng.choice(diffs, size=(2000, len(diffs))).mean(axis=1)
    return float(diffs.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))
