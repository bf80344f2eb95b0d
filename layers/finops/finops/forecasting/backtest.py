"""The rolling-origin backtest: forecasts from every origin of the history, scored against what happened.

It serves twice: `weigh` judges `auto`'s candidates on the cleaned history and combines them; `scores` grades the
forecast made (against the raw history, spikes included), for `Forecast.accuracy`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from finops.forecasting.stats import SEASON

# Origins from day WARMUP_DAYS on (fewer for short histories), forecasts up to this many days ahead.
WARMUP_DAYS = 28
BACKTEST_HORIZON = 28


class Plan(NamedTuple):
    origins: np.ndarray  # every origin; the last, the history's length, is the forecast itself
    steps: int  # days ahead each backtest forecast is scored on


class Scores(NamedTuple):
    """Error measures over every backtest (origin, step) whose day is in the history."""

    mape: float | None  # None when an actual day was zero: undefined there
    smape: float
    mase: float | None  # None when the history never changed week on week
    horizon_days: int
    points: int


def plan(days: int) -> Plan:
    """The origins and the steps of the backtest of a history of `days` days."""
    warmup = min(WARMUP_DAYS, max(SEASON, days // 2))
    return Plan(np.arange(warmup, days + 1), min(BACKTEST_HORIZON, days - warmup))


def errors(actual: np.ndarray, origins: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """actual - forecast for every (origin, step) whose day is in the history; NaN beyond it."""
    target = origins[:, None] + np.arange(paths.shape[1])[None, :]
    inside = target < len(actual)
    return np.where(inside, actual[np.minimum(target, len(actual) - 1)] - paths, np.nan)


def weigh(
    candidates: dict[str, np.ndarray], y: np.ndarray, origins: np.ndarray, steps: int, power: float
) -> tuple[np.ndarray, dict[str, float]]:
    """Combine the candidates' paths, each weighted by 1 / MAE ** `power` of its forecasts up to `steps` days ahead
    on the (cleaned) history `y`; returns the combined paths and the weights."""
    mae = {}
    for name, paths in candidates.items():
        err = errors(y, origins[:-1], np.maximum(paths[:-1, :steps], 0.0))
        mae[name] = float(np.nanmean(np.abs(err))) if np.any(~np.isnan(err)) else math.inf
    inverse = {name: max(value, 1e-12) ** -power for name, value in mae.items() if math.isfinite(value)}
    if not inverse:
        inverse = dict.fromkeys(candidates, 1.0)
    norm = sum(inverse.values())
    weights = {name: value / norm for name, value in inverse.items()}
    combined = sum(weights[name] * candidates[name] for name in weights)
    return np.asarray(combined, dtype=float), weights


def scores(raw: np.ndarray, paths: np.ndarray, errors: np.ndarray) -> Scores:
    """MAPE, sMAPE and MASE (scaled by the in-sample weekly-naive error) of backtest `paths` and their `errors`."""
    mask = ~np.isnan(errors)
    actual = (paths + errors)[mask]
    predicted = paths[mask]
    abs_err = np.abs(errors[mask])
    denom = np.abs(actual) + np.abs(predicted)
    smape = float(np.mean(np.where(denom > 0, 200 * abs_err / np.where(denom > 0, denom, 1), 0.0)))
    mape = float(100 * np.mean(abs_err / actual)) if np.all(actual > 0) else None
    mase_scale = float(np.mean(np.abs(raw[SEASON:] - raw[:-SEASON])))
    mase = float(np.mean(abs_err) / mase_scale) if mase_scale > 0 else None
    return Scores(mape=mape, smape=smape, mase=mase, horizon_days=paths.shape[1], points=int(mask.sum()))
