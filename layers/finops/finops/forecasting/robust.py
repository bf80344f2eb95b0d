"""Robust pre-processing: one-day spikes and outages are replaced before any method fits the history.

A spike (a one-off batch job, a runaway loop) or an outage day says nothing about the days to come, yet it
drags a least-squares fit or a smoothing recursion for weeks. The history is compared with a robust local
fit (centred 7-day median times a weekly profile); days far outside it (by median absolute deviation) are
replaced by that fit. A level shift is not an outlier for a centred median, so it survives the cleaning and
the methods follow it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SEASON = 7
# 1.4826 * MAD estimates the standard deviation of normal noise.
MAD_TO_SD = 1.4826
# Days beyond this many robust standard deviations are outliers; high enough that ordinary noise never is.
OUTLIER_Z = 7.0
# An "outlier" on more than this share of days is the series' nature (intermittent spend), not an accident.
MAX_OUTLIER_SHARE = 0.1


def centred_median(y: np.ndarray, width: int = SEASON) -> np.ndarray:
    """Centred rolling median; the window shrinks at both ends instead of inventing data."""
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), y, np.full(half, np.nan)])
    windows = sliding_window_view(padded, width)
    # Sorting puts NaN last; the median of the k finite values is then read off per row.
    ordered = np.sort(windows, axis=1)
    counts = np.sum(~np.isnan(windows), axis=1)
    rows = np.arange(len(y))
    low = ordered[rows, (counts - 1) // 2]
    high = ordered[rows, counts // 2]
    return np.asarray((low + high) / 2, dtype=float)


def nan_median(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Median along `axis` ignoring NaN (NaN where all are): a sort, much faster than np.nanmedian on the
    short rows the forecasts need."""
    ordered = np.sort(np.moveaxis(a, axis, -1), axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(ordered), axis=-1)
    safe = np.maximum(count, 1)
    low = np.take_along_axis(ordered, ((safe - 1) // 2)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, (safe // 2)[..., None], axis=-1)[..., 0]
    return np.asarray(np.where(count > 0, (low + high) / 2, np.nan), dtype=float)


def weekly_ratio_profile(y: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Multiplicative day-of-week factors relative to `level`, indexed by position modulo 7.

    Each factor is the median of that weekday's ratios to the local level: one spike does not move it.
    """
    n = len(y)
    ratio = np.where(level > 0, y / np.where(level > 0, level, 1.0), np.nan)
    weeks = -(-n // SEASON)
    padded = np.full(weeks * SEASON, np.nan)
    padded[:n] = ratio
    ordered = np.sort(padded.reshape(weeks, SEASON), axis=0)  # NaN sorts last
    counts = np.sum(~np.isnan(ordered), axis=0)
    safe = np.maximum(counts, 1)
    cols = np.arange(SEASON)
    profile = (ordered[(safe - 1) // 2, cols] + ordered[safe // 2, cols]) / 2
    return np.asarray(np.where(counts > 0, profile, 1.0), dtype=float)


def clean_history(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The history with one-off outliers replaced by a robust local fit, and the mask of replaced days."""
    level = centred_median(y)
    profile = weekly_ratio_profile(y, level)
    fit = level * profile[np.arange(len(y)) % SEASON]
    resid = y - fit
    scale = MAD_TO_SD * float(np.median(np.abs(resid - np.median(resid))))
    # A floor, so a perfectly regular series does not call every cent of noise an outlier.
    scale = max(scale, 0.02 * float(np.mean(y)), 1e-9)
    outliers = np.abs(resid) > OUTLIER_Z * scale
    # At the very end the centred median is one-sided: two or more last days off the same way are more
    # likely a new level than a coincidence of outliers, so they stay (one last day off is a spike).
    side = np.sign(resid) * outliers
    run = 0
    while run < len(y) and side[-1 - run] != 0 and side[-1 - run] == side[-1]:
        run += 1
    if run >= 2:
        outliers[len(y) - run :] = False
    if outliers.sum() > MAX_OUTLIER_SHARE * len(y):
        return y.copy(), np.zeros(len(y), dtype=bool)
    return np.where(outliers, np.maximum(fit, 0.0), y), outliers


def weighted_quantile_fit(abs_err: np.ndarray, q: float, z: float) -> tuple[float, float, int]:
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
