"""Anomaly detection on one daily spend series (one tenant's category): pure maths, no I/O.

Methods:
- `statistical`: the seed's baseline. Expected = mean of the 28 days before (fewer if the series is
  shorter, at least 7); a day is unusual when it is more than `k_sigma` (2) standard deviations away. Blind to
  the weekly pattern: a business-days-only series has a "drop" every weekend. Kept for comparison.
- `threshold`: a fixed daily limit (`threshold_limit`); every day above it, expected = the limit.
- `seasonal`: expected = (median of the last week, deseasonalised) x (this weekday's factor), the factors
  being medians over the previous four weeks (two when that is all there is) of each day's ratio to its
  week's mean: robust to the weekly pattern, to trend (the level is last week's) and to earlier spikes
  (medians). The day scored is never part of its own baseline, so re-running a day gives the same answer.
  Unusual = robust z on the log ratio actual/expected (scale = 1.4826 x MAD of the baseline's residuals)
  beyond `z_threshold` (4).
- `auto` (default): `seasonal` from 14 days of baseline on, and for days with 7 to 13 days before them a
  robust flat baseline (median and MAD of the last 7 days).

Reported only when all of: statistically unusual (above), deviation from expected over 10% (the seed's
severity bands: high > 50%, medium > 25%, low > 10%), and |impact| >= `min_impact_usd`. Both directions count.
For `seasonal`/`auto`, a run of consecutive unusual days in the same direction (a 3-day outage, or the days
until the baseline has learnt a level shift) is one anomaly, reported on its first day only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

AnomalyMethod = Literal["statistical", "threshold", "seasonal", "auto"]
ANOMALY_METHODS: tuple[str, ...] = get_args(AnomalyMethod)
Severity = Literal["low", "medium", "high"]
Direction = Literal["up", "down"]

SEASON = 7
STATISTICAL_WINDOW = 28
MIN_BASELINE_DAYS = 7
MAD_TO_SD = 1.4826
# The robust residual scale never drops below 2% (relative): spend is never perfectly regular.
MIN_LOG_SD = 0.02
# Log ratios are taken on value + EPS_SHARE x the baseline's mean, so near-idle days cannot explode them.
EPS_SHARE = 0.02
# Severity bands on |actual - expected| / expected (the seed's).
SEVERITY_BANDS: tuple[tuple[float, Severity], ...] = ((0.50, "high"), (0.25, "medium"), (0.10, "low"))
# The in-window residuals understate the error of predicting a new day (the level and factors are estimated
# from the same few weeks): scale-up factors, checked by simulation on pure noise (z has unit scale).
_SCALE_INFLATION = {4: 1.25, 2: 1.6, 0: 1.45}
# Past errors used for the scale of today's error, and the weight (in days) of the in-window prior.
SCALE_WINDOW = 56
PRIOR_WEIGHT = 7
# E[min(Z^2, 9)] for a standard normal Z: makes the winsorised RMS consistent for the SD.
WINSOR_CONSISTENCY = 0.99747


@dataclass(frozen=True, slots=True)
class Detection:
    """One anomalous day. `impact` = actual - expected in USD; `deviation_percent` None when expected is 0."""

    index: int
    day: date | None
    expected: float
    actual: float
    impact: float
    deviation_percent: float | None
    severity: Severity
    direction: Direction
    method: str  # the method that scored the day (`auto` reports `seasonal` or `robust_flat`)
    score: float  # |z| for statistical methods, actual/limit for threshold


def severity_of(deviation: float) -> Severity | None:
    """The seed's severity of a relative deviation (0.3 = 30%), None when it is 10% or less."""
    for bound, label in SEVERITY_BANDS:
        if abs(deviation) > bound:
            return label
    return None


def detect(
    series: np.ndarray,
    dates: date | Sequence[date] | None = None,
    method: AnomalyMethod = "auto",
    *,
    min_impact_usd: float = 10.0,
    threshold_limit: float | None = None,
    k_sigma: float = 2.0,
    z_threshold: float = 4.0,
    score_from: int = 0,
) -> list[Detection]:
    """Anomalous days of one daily series (oldest first, one value per consecutive day).

    `dates` is the first day's date or one date per value (used only to label detections). Days before
    `score_from` serve as baseline only (the daily job passes len(series) - 1 to score yesterday).
    """
    x = np.maximum(np.asarray(series, dtype=float), 0.0)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise ValueError("series must be a one-dimensional array of finite daily spend")
    if method not in ANOMALY_METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(ANOMALY_METHODS)}")
    first_day = _first_day(dates, len(x))
    start = max(score_from, 0)
    if method == "threshold":
        if threshold_limit is None or threshold_limit <= 0:
            raise ValueError("the threshold method needs a positive threshold_limit")
        return _threshold(x, first_day, threshold_limit, min_impact_usd, start)

    if method == "statistical":
        expected, score, scorer = _statistical(x, max(start - 1, MIN_BASELINE_DAYS))
        limit = k_sigma
    else:
        expected, score, scorer = _seasonal_scores(x, short_fallback=method == "auto")
        limit = z_threshold
    unusual = np.where(np.isnan(score), 0, np.sign(score) * (np.abs(score) > limit))
    if method != "statistical":
        # Only the first day of a run of same-direction unusual days is an anomaly.
        unusual[1:] = np.where(unusual[1:] == unusual[:-1], 0, unusual[1:])
    found = []
    for i in np.flatnonzero(unusual):
        if i < start:
            continue
        detection = _detection(int(i), first_day, float(expected[i]), float(x[i]), float(abs(score[i])), str(scorer[i]))
        if detection is not None and abs(detection.impact) >= min_impact_usd:
            found.append(detection)
    return found


def _first_day(dates: date | Sequence[date] | None, n: int) -> date | None:
    if dates is None or isinstance(dates, date):
        return dates
    if len(dates) != n:
        raise ValueError(f"got {len(dates)} dates for {n} values")
    if n and any(dates[i] != dates[0] + timedelta(days=i) for i in range(n)):
        raise ValueError("dates must be consecutive days, oldest first (fill missing days with 0)")
    return dates[0] if n else None


def _detection(index: int, first_day: date | None, expected: float, actual: float, score: float, method: str) -> Detection | None:
    impact = actual - expected
    if expected > 0:
        deviation: float | None = impact / expected
        severity = severity_of(impact / expected)
    else:
        deviation, severity = None, "high" if actual > 0 else None
    if severity is None:
        return None
    return Detection(
        index=index,
        day=first_day + timedelta(days=index) if first_day else None,
        expected=expected,
        actual=actual,
        impact=impact,
        deviation_percent=None if deviation is None else 100 * deviation,
        severity=severity,
        direction="up" if impact > 0 else "down",
        method=method,
        score=score,
    )


def _threshold(x: np.ndarray, first_day: date | None, limit: float, min_impact: float, start: int) -> list[Detection]:
    found = []
    for i in np.flatnonzero(x > limit):
        if i < start or x[i] - limit < min_impact:
            continue
        over = (x[i] - limit) / limit
        found.append(
            Detection(
                index=int(i),
                day=first_day + timedelta(days=int(i)) if first_day else None,
                expected=limit,
                actual=float(x[i]),
                impact=float(x[i] - limit),
                deviation_percent=100 * over,
                # Over the limit is at least "low", whatever the margin: the limit is the user's own line.
                severity=severity_of(over) or "low",
                direction="up",
                method="threshold",
                score=float(x[i] / limit),
            )
        )
    return found


def _statistical(x: np.ndarray, begin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trailing mean and sample standard deviation of up to 28 days before each day; z = (x - mean) / sd."""
    n = len(x)
    expected, score, scorer = _empty(n)
    if begin >= n:
        return expected, score, scorer
    t = np.arange(begin, n)
    width = np.minimum(t, STATISTICAL_WINDOW)
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    mean = (c1[t] - c1[t - width]) / width
    var = np.maximum((c2[t] - c2[t - width] - width * mean**2) / (width - 1), 0.0)
    sd = np.sqrt(var)
    dev = x[t] - mean
    z = np.where(sd > 0, dev / np.where(sd > 0, sd, 1.0), np.sign(dev) * np.inf)
    expected[t], score[t], scorer[t] = mean, z, "statistical"
    return expected, score, scorer


def _empty(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.full(n, np.nan), np.full(n, np.nan), np.full(n, "", dtype=object)


def _seasonal_scores(x: np.ndarray, *, short_fallback: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected value, robust z and scorer of every day that has a baseline.

    The z of day t divides its log error by the spread of the baseline's own errors on the (up to 56) days
    before t: out-of-sample errors, so the scale includes how wrong the expected value itself tends to be.
    The in-window residual spread (inflated) acts as a prior worth PRIOR_WEIGHT days, for young series.
    """
    n = len(x)
    expected, prior_sd, scorer = _empty(n)
    eps = np.full(n, np.nan)
    if short_fallback:
        _robust_flat(x, MIN_BASELINE_DAYS, min(n, 2 * SEASON), expected, prior_sd, scorer, eps)
    _seasonal(x, 2 * SEASON, 2, expected, prior_sd, scorer, eps, until=4 * SEASON)
    _seasonal(x, 4 * SEASON, 4, expected, prior_sd, scorer, eps, until=n)
    err = _log_ratio(x, expected, eps)  # NaN where there is no baseline
    if short_fallback:
        # A week of history cannot tell a weekend from a drop: before day 14, only a day outside the range of
        # every day so far (by half again above the highest, or below half the lowest) can be unusual.
        young = np.arange(MIN_BASELINE_DAYS, min(n, 2 * SEASON))
        if len(young):
            highest = np.maximum.accumulate(x)[young - 1]
            lowest = np.minimum.accumulate(x)[young - 1]
            outside = (x[young] > 1.5 * highest) | (x[young] < 0.5 * lowest)
            prior_sd[young] = np.where(outside, prior_sd[young], np.inf)
    past = sliding_window_view(np.concatenate([np.full(SCALE_WINDOW, np.nan), err[:-1]]), SCALE_WINDOW)
    oos_sd, count = _winsorised_rms_rows(past)
    var = (count * np.nan_to_num(oos_sd) ** 2 + PRIOR_WEIGHT * prior_sd**2) / (count + PRIOR_WEIGHT)
    sd = np.maximum(np.sqrt(var), MIN_LOG_SD)
    return expected, err / sd, scorer


def _winsorised_rms_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: root mean square after clipping at 3 robust SDs (1.4826 x median |e|), and the count."""
    absolute = np.abs(a)
    count = np.sum(~np.isnan(a), axis=1)
    robust = MAD_TO_SD * _nanmedian_rows(absolute)
    clipped = np.minimum(absolute, 3 * robust[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt(np.nansum(clipped**2, axis=1) / np.maximum(count, 1)) / WINSOR_CONSISTENCY
    return np.where(count > 0, rms, np.nan), count


def _log_ratio(actual: np.ndarray, expected: np.ndarray, eps: np.ndarray) -> np.ndarray:
    return np.asarray(np.log((actual + eps) / (expected + eps)), dtype=float)


def _robust_flat(
    x: np.ndarray,
    begin: int,
    until: int,
    expected: np.ndarray,
    prior_sd: np.ndarray,
    scorer: np.ndarray,
    eps_out: np.ndarray,
) -> None:
    """Median of the last 7 days; scale from the MAD of their log ratios to it. For short histories."""
    if begin >= until:
        return
    t = np.arange(begin, until)
    windows = sliding_window_view(x, MIN_BASELINE_DAYS)[t - MIN_BASELINE_DAYS]
    level = np.median(windows, axis=1)
    eps = EPS_SHARE * np.maximum(windows.mean(axis=1), 1e-9)
    resid = _log_ratio(windows, level[:, None], eps[:, None])
    sd = MAD_TO_SD * np.median(np.abs(resid - np.median(resid, axis=1, keepdims=True)), axis=1)
    expected[t], prior_sd[t], scorer[t], eps_out[t] = level, sd * _SCALE_INFLATION[0], "robust_flat", eps


def _seasonal(
    x: np.ndarray,
    begin: int,
    weeks: int,
    expected: np.ndarray,
    prior_sd: np.ndarray,
    scorer: np.ndarray,
    eps_out: np.ndarray,
    *,
    until: int,
) -> None:
    """Weekly-profile baseline from the `weeks` whole weeks before each day t in [begin, until)."""
    width = weeks * SEASON
    until = min(until, len(x))
    if begin >= until:
        return
    t = np.arange(begin, until)
    # Window of day t: x[t - width : t]. Its first day has t's weekday, as width is whole weeks.
    blocks = sliding_window_view(x, width)[t - width].reshape(len(t), weeks, SEASON)
    means = blocks.mean(axis=2, keepdims=True)
    ratio = blocks / np.where(means > 0, means, 1.0)
    profile = np.median(ratio, axis=1)
    norm = profile.mean(axis=1, keepdims=True)
    profile = np.where(norm > 0, profile / np.where(norm > 0, norm, 1.0), 1.0)
    # Level: median of last week's deseasonalised days, skipping near-idle days (tiny factors amplify noise).
    last = blocks[:, -1, :]
    usable = profile >= 0.2
    deseason = np.where(usable, last / np.where(usable, profile, 1.0), np.nan)
    level = _nanmedian_rows(deseason)
    level = np.where(np.isnan(level), last.mean(axis=1), level)
    exp_t = level * profile[:, 0]
    eps = EPS_SHARE * np.maximum(means.mean(axis=(1, 2)), 1e-9)
    fitted = means * profile[:, None, :]
    resid = _log_ratio(blocks, fitted, eps[:, None, None]).reshape(len(t), width)
    sd = MAD_TO_SD * np.median(np.abs(resid - np.median(resid, axis=1, keepdims=True)), axis=1)
    expected[t], prior_sd[t], scorer[t], eps_out[t] = exp_t, sd * _SCALE_INFLATION[weeks], "seasonal", eps


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN (NaN for an all-NaN row); faster than np.nanmedian on small rows."""
    ordered = np.sort(a, axis=1)
    counts = np.sum(~np.isnan(a), axis=1)
    rows = np.arange(a.shape[0])
    safe = np.maximum(counts, 1)
    low = ordered[rows, (safe - 1) // 2]
    high = ordered[rows, safe // 2]
    return np.where(counts > 0, (low + high) / 2, math.nan)
