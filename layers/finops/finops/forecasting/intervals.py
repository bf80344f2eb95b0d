"""Prediction intervals from a forecast's own backtest errors, and the out-of-sample coverage that checks them.

Daily intervals (all methods but `linear`, whose intervals are the textbook Student-t ones): at each step h the
80th and 95th percentiles of |error| give a variance modelled as a + b*h, so heavy tails widen the 95% band more
than the 80% one. The period total's variance adds the correlation of one forecast's errors (a misjudged level
moves every day): cov(e_h, e_k) = L + b*min(h, k), with L measured on the backtest's summed errors; the total's
interval is never wider than the sum of the daily ones. The engine widens both by factors measured on the
accuracy bench (`engine.DAILY_WIDENING`, `engine.TOTAL_WIDENING`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from finops.forecasting.stats import Z80, Z95, student_t_ppf

# The correlated share of the error when the history is too short to measure it (see _total_sd).
PRIOR_LEVEL_SHARE = 0.25
# Intervals are never narrower than this share of the recent level: no history proves spend is certain.
MIN_RELATIVE_SD = 0.01


@dataclass(frozen=True, slots=True)
class Bands:
    """Half-widths of the daily 80% and 95% intervals, and the standard deviations behind the total's."""

    half80: np.ndarray
    half95: np.ndarray
    total_sd80: float
    total_sd95: float


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """The forecast error's variance at step h, a + b*h, fitted at the 80% and 95% levels on backtest `errors`
    (origins x steps, NaN where the day is beyond the history)."""

    errors: np.ndarray
    fit80: tuple[float, float]
    fit95: tuple[float, float]

    @classmethod
    def fit(cls, errors: np.ndarray, level: float) -> ErrorModel:
        """`level`: the recent daily spend, whose MIN_RELATIVE_SD share is the narrowest interval allowed."""
        return cls(errors, _scale_fit(np.abs(errors), 0.80, Z80, level), _scale_fit(np.abs(errors), 0.95, Z95, level))

    def bands(self, horizon: int, *, daily_widening: float, total_widening: float) -> Bands:
        steps = np.arange(1, horizon + 1)
        half80 = daily_widening * Z80 * np.sqrt(self.fit80[0] + self.fit80[1] * steps)
        half95 = np.maximum(daily_widening * Z95 * np.sqrt(self.fit95[0] + self.fit95[1] * steps), half80)
        share = _level_share(self.errors, self.fit95, horizon)
        # Never wider than if every day were off by its full interval the same way (perfect correlation).
        sd80 = min(total_widening * _total_sd(self.fit80, share, horizon), float(half80.sum()) / Z80)
        sd95 = min(
            max(total_widening * _total_sd(self.fit95, share, horizon), sd80 * Z80 / Z95), float(half95.sum()) / Z95
        )
        return Bands(half80, half95, sd80, sd95)


def holdout_coverage(
    errors: np.ndarray, origins: np.ndarray, level: float, daily_widening: float
) -> tuple[float | None, float | None]:
    """Coverage of the 80% and 95% daily intervals, out of sample: fitted on the errors known at the middle
    origin (their day is before it), checked on the later origins' errors. Intervals fitted on the very errors
    they are checked against would cover 95% by construction. (None, None) with too little history."""
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
        half = daily_widening * z * np.sqrt(a + b * steps)
        inside = np.abs(later) <= half[None, :]
        covered.append(float(np.mean(inside[~np.isnan(later)])))
    return covered[0], covered[1]


def coverage(errors: np.ndarray, half80: np.ndarray, half95: np.ndarray) -> tuple[float, float]:
    """Share of the backtest errors inside given 80% and 95% half-widths (each origin's own intervals)."""
    mask = ~np.isnan(errors)
    inside95 = (np.abs(errors) <= half95)[mask]
    inside80 = (np.abs(errors) <= half80)[mask]
    return float(np.mean(inside80)), float(np.mean(inside95))


def student_t_quantiles(dof: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided 80% and 95% Student-t quantiles for each of `dof` (the linear method's intervals)."""
    t80 = np.array([student_t_ppf(0.90, float(d)) for d in dof])
    t95 = np.array([student_t_ppf(0.975, float(d)) for d in dof])
    return t80, t95


def _scale_fit(abs_err: np.ndarray, q: float, z: float, level: float) -> tuple[float, float]:
    """(a, b) with the forecast error's variance at step h modelled as a + b*h, from backtest quantiles."""
    a, b, used = _weighted_quantile_fit(abs_err, q, z)
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


def _weighted_quantile_fit(abs_err: np.ndarray, q: float, z: float) -> tuple[float, float, int]:
    """Fit sd(h)^2 = a + b*h to the q-quantile of |error| at each horizon h (columns, NaN = no data).

    Quantiles rather than squared errors: the history keeps its spikes and outages, which would blow up a
    variance but move a 95% quantile only as much as they should. Returns (a, b, number of errors used).
    """
    ordered = np.sort(abs_err, axis=0)  # NaN sorts last
    counts = np.sum(~np.isnan(abs_err), axis=0)
    usable = counts >= 3
    if not usable.any():
        return float("nan"), float("nan"), 0
    cols = np.flatnonzero(usable)
    pos = q * (counts[cols] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, counts[cols] - 1)
    frac = pos - lo
    quant = ordered[lo, cols] * (1 - frac) + ordered[hi, cols] * frac
    var = (quant / z) ** 2
    w = counts[cols].astype(float)
    h = cols + 1.0
    if len(cols) == 1:
        return float(var[0]), 0.0, int(w.sum())
    hm = np.average(h, weights=w)
    vm = np.average(var, weights=w)
    sxx = float(np.sum(w * (h - hm) ** 2))
    b = float(np.sum(w * (h - hm) * (var - vm)) / sxx) if sxx > 0 else 0.0
    if b < 0:
        b = 0.0
    a = float(vm - b * hm)
    if a < 0:
        # Growth steeper than the data near h=0 allows: keep the fit through the weighted mean.
        a, b = 0.0, float(vm / hm)
    return a, b, int(w.sum())
