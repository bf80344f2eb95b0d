"""Small statistics the forecasts need without SciPy: normal and Student-t quantiles, the normal CDF, and the
robust medians and weekly profile that both the cleaning (`robust`) and the methods (`methods`) are built on.

The layer ships numpy only (cold starts and the 250 MB layer limit), so these are the classic closed forms.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SEASON = 7  # days in the weekly pattern every method and the cleaning follow

# Quantiles used on every forecast, exact to double precision.
Z80 = 1.2815515655446004  # two-sided 80%: the 0.90 quantile
Z95 = 1.959963984540054  # two-sided 95%: the 0.975 quantile

# Acklam's rational approximation of the inverse normal CDF (relative error below 1.2e-9).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02, -3.066479806614716e01,
      2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425


def normal_ppf(p: float) -> float:
    """The standard normal quantile of probability `p` (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    if p < _P_LOW:
        q = math.sqrt(-2 * math.log(p))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1
        )
    if p > 1 - _P_LOW:
        return -normal_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (
        (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
        * q
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    )


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def student_t_ppf(p: float, df: float) -> float:
    """The Student-t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5).

    Within 1e-3 of the exact value for df >= 5 at the 0.9 and 0.975 quantiles, which is all the linear
    method's intervals need (it always has at least 12 degrees of freedom).
    """
    z = normal_ppf(p)
    if math.isinf(df):
        return z
    z2 = z * z
    g1 = (z2 + 1) * z / 4
    g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
    g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
    g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


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
