"""The `seasonal` and `auto` scorers of `detection`: weekly-profile baselines learnt in two passes, a log error
over a scale learnt from the baseline's own past errors, and the rules on runs (sustained shifts, incidents of a
day or two, a new weekly shape). The rules and their reasons are in `detection`'s docstring; pure maths, no I/O.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SEASON = 7
MIN_BASELINE_DAYS = 7
MAD_TO_SD = 1.4826
# The robust residual scale never drops below 2% (relative): spend is never perfectly regular.
MIN_LOG_SD = 0.02
# Log ratios are taken on value + EPS_SHARE x the baseline's mean, so near-idle days cannot explode them.
EPS_SHARE = 0.02
# The in-window residuals understate the error of predicting a new day (the level and factors come from the
# same few weeks); they only serve as the prior of the learnt scale. Factors checked by simulation on noise.
_PRIOR_INFLATION = {4: 1.25, 2: 1.6, 0: 1.45}
# Past errors used for the scale of today's error; the weight (in days) and degrees of freedom of the prior.
SCALE_WINDOW = 56
PRIOR_WEIGHT = 7
PRIOR_DOF = 4
# E[min(Z^2, 9)] for a standard normal Z, square-rooted: makes the winsorised RMS consistent for the SD.
WINSOR_CONSISTENCY = 0.99747
# Errors beyond this many SDs in the first pass do not teach the second pass its scale.
LEARN_Z = 3.0
# A sustained shift: this many days in a row beyond SHIFT_Z in the same direction.
SHIFT_DAYS = 3
SHIFT_Z = 2.5

# What scored each day (`kind` arrays): no baseline, the young-series flat baseline, the weekly profile, the mean.
NONE, FLAT, SEASONAL, STATISTICAL = 0, 1, 2, 3


def empty(s: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected, z or scale, kind) of `s` series x `n` days with no baseline yet."""
    return np.full((s, n), np.nan), np.full((s, n), np.nan), np.zeros((s, n), dtype=np.int8)


def seasonal_report(
    x: np.ndarray, *, short_fallback: bool, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Expected value, z, scorer and the report flags (+1 up, -1 down, 0) of `seasonal`/`auto`.

    Two passes: the second replaces the days the first found unusual by their expected value before
    computing the baselines again, so later days are not judged against an outage or a spike. Only earlier
    days are ever replaced, so a day's answer never depends on the days after it.
    """
    expected, prior_sd, eps, kind = _baselines(x, short_fallback)
    z = _z(x, expected, prior_sd, eps, kind == SEASONAL)
    flagged = np.abs(np.nan_to_num(z)) > limit
    # Days kept out of the learnt scale: a borderline anomaly would inflate it and hide the next one.
    doubtful = np.abs(np.nan_to_num(z)) > LEARN_Z
    cleaned = x
    if flagged.any():
        cleaned = np.where(flagged, expected, x)
        expected, prior_sd, eps, kind = _baselines(cleaned, short_fallback, raw=x)
    z = _z(x, expected, prior_sd, eps, (kind == SEASONAL) & ~doubtful)
    young = kind == FLAT
    if young.any():
        # Outside the range of every earlier day is already a strong condition: no small-sample discount.
        plain = _log_ratio(x, expected, eps) / np.maximum(prior_sd, MIN_LOG_SD)
        z = np.where(young, plain, z)
    unusual, report = _report_flags(np.nan_to_num(z), limit)
    if x.shape[1] > 2 * SEASON:
        report = np.where(_new_weekly_shape(x, cleaned, unusual, prior_sd, eps, limit, ~doubtful), 0, report)
    return expected, z, kind, report


def _report_flags(zz: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """(unusual, report) flags, +1 up, -1 down, 0, from the z of each day.

    Unusual: beyond the limit, or beyond SHIFT_Z for SHIFT_DAYS days in a row (a shift, however small).
    Until a run of days beyond SHIFT_Z the same way lasts SHIFT_DAYS days it may be an incident of a day or
    two, so each of its days beyond the limit is reported (two spike days are two anomalies). Once it lasts,
    it is a level shift: reported on the day it has lasted if none of its days was reported yet, and never
    again while it lasts. Only earlier days are looked at.
    """
    strong = np.sign(zz) * (np.abs(zz) > limit)
    side = np.sign(zz) * (np.abs(zz) > min(SHIFT_Z, limit))
    run = _runs_so_far(side)
    unusual = np.where(strong != 0, strong, np.where(run >= SHIFT_DAYS, side, 0))
    reported_before = np.zeros(zz.shape, dtype=bool)
    for back in range(1, SHIFT_DAYS):
        reported_before[:, back:] |= strong[:, :-back] != 0
    early = (strong != 0) & (run < SHIFT_DAYS)
    settled = (run == SHIFT_DAYS) & ~reported_before
    return unusual, np.where(early | settled, side, 0)


def _runs_so_far(flags: np.ndarray) -> np.ndarray:
    """For each non-zero cell, how many days its run of equal values has lasted up to it (0 elsewhere).

    Unlike `_run_lengths`, it never looks at later days."""
    n = flags.shape[1]
    nonzero = flags != 0
    starts = nonzero.copy()
    starts[:, 1:] &= flags[:, 1:] != flags[:, :-1]
    days = np.arange(n)
    run_start = np.maximum.accumulate(np.where(starts, days, 0), axis=1)
    return np.where(nonzero, days - run_start + 1, 0)


def _new_weekly_shape(
    x: np.ndarray,
    cleaned: np.ndarray,
    unusual: np.ndarray,
    prior_sd: np.ndarray,
    eps: np.ndarray,
    limit: float,
    learn: np.ndarray,
) -> np.ndarray:
    """Unusual days that only repeat last week's: a new service changed the weekly shape, which the weekday
    factors take weeks to learn. Day t qualifies when the same weekday a week before was unusual the same
    way (in a run of two days or more, or as such a repeat itself), t is within `limit` of that day's value,
    and a level shift (a run of SHIFT_DAYS days or more) happened in the four weeks before t. A spike a
    week after another stays news.
    """
    s, n = unusual.shape
    run = _run_lengths(unusual)  # read only as "run >= 2" on days at least 6 days back: no look-ahead
    # A shift (a run that had lasted SHIFT_DAYS, either way) in the four weeks before: what changes a weekly
    # shape. Counted as it happened, so a run still going on after day t cannot change t's answer.
    shift = np.concatenate([np.zeros((s, 1)), np.cumsum(_runs_so_far(unusual) >= SHIFT_DAYS, axis=1)], axis=1)
    t = np.arange(n)
    recent_shift = shift[:, t] - shift[:, np.maximum(t - 4 * SEASON, 0)] > 0
    candidate = np.zeros((s, n), dtype=bool)
    candidate[:, SEASON:] = (unusual[:, SEASON:] != 0) & (unusual[:, SEASON:] == unusual[:, :-SEASON])
    if not candidate.any():
        return candidate
    candidate &= _matches_last_week(x, cleaned, prior_sd, eps, limit, learn)
    repeat = np.zeros((s, n), dtype=bool)
    for week in range(SEASON, n, SEASON):
        days = slice(week, min(week + SEASON, n))
        before = slice(week - SEASON, min(week, n - SEASON))
        width = days.stop - days.start
        lasting = (run[:, before] >= 2) | repeat[:, before]
        repeat[:, days] = candidate[:, days] & recent_shift[:, days] & lasting[:, :width]
    return repeat


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """For each non-zero cell, the length of the run of equal values it belongs to (0 elsewhere)."""
    s, n = flags.shape
    nonzero = flags != 0
    start = nonzero.copy()
    start[:, 1:] &= flags[:, 1:] != flags[:, :-1]
    key = np.where(nonzero, np.arange(s)[:, None] * (n + 1) + np.cumsum(start, axis=1), 0)
    counts = np.bincount(key.ravel(), minlength=s * (n + 1) + 1)
    return np.where(nonzero, counts[key], 0)


def _matches_last_week(
    x: np.ndarray, cleaned: np.ndarray, prior_sd: np.ndarray, eps: np.ndarray, limit: float, learn: np.ndarray
) -> np.ndarray:
    """Whether each day is within `limit` of the same weekday last week, scaled by the change in weekly mean."""
    s, n = x.shape
    expected = np.full((s, n), np.nan)
    csum = np.concatenate([np.zeros((s, 1)), np.cumsum(cleaned, axis=1)], axis=1)
    t = np.arange(2 * SEASON, n)
    last = csum[:, t] - csum[:, t - SEASON]
    before = csum[:, t - SEASON] - csum[:, t - 2 * SEASON]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(before > 0, last / before, 1.0)
    # Last week's raw value: whether it was unusual is the point; the weekly means come from cleaned days.
    expected[:, t] = x[:, t - SEASON] * ratio
    # Two noisy days instead of one against a smooth baseline: about sqrt(2) the prior scale.
    z = _z(x, expected, np.sqrt(2) * prior_sd, eps, learn & ~np.isnan(expected))
    return np.asarray(np.abs(np.nan_to_num(z, nan=np.inf)) < limit)


def _baselines(
    x: np.ndarray, short_fallback: bool, raw: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Baselines from `x` (the raw or the cleaned series); `raw` is what the young-series range rule judges."""
    s, n = x.shape
    expected, prior_sd, kind = empty(s, n)
    eps = np.full((s, n), np.nan)
    if short_fallback:
        _robust_flat(x, x if raw is None else raw, min(n, 2 * SEASON), expected, prior_sd, eps, kind)
    _seasonal(x, 2 * SEASON, min(n, 4 * SEASON), 2, expected, prior_sd, eps, kind)
    _seasonal(x, 4 * SEASON, n, 4, expected, prior_sd, eps, kind)
    return expected, prior_sd, eps, kind


def _robust_flat(
    x: np.ndarray,
    raw: np.ndarray,
    until: int,
    expected: np.ndarray,
    prior_sd: np.ndarray,
    eps: np.ndarray,
    kind: np.ndarray,
) -> None:
    """Median of the last 7 days; only days outside the range of every earlier day may be unusual."""
    if until <= MIN_BASELINE_DAYS:
        return
    t = np.arange(MIN_BASELINE_DAYS, until)
    windows = sliding_window_view(x, MIN_BASELINE_DAYS, axis=1)[:, t - MIN_BASELINE_DAYS]
    level = np.median(windows, axis=2)
    e = EPS_SHARE * np.maximum(windows.mean(axis=2), 1e-9)
    resid = _log_ratio(windows, level[..., None], e[..., None])
    sd = MAD_TO_SD * np.median(np.abs(resid - np.median(resid, axis=2, keepdims=True)), axis=2)
    highest = np.maximum.accumulate(raw, axis=1)[:, t - 1]
    lowest = np.minimum.accumulate(raw, axis=1)[:, t - 1]
    outside = (raw[:, t] > 1.5 * highest) | (raw[:, t] < 0.5 * lowest)
    expected[:, t] = level
    prior_sd[:, t] = np.where(outside, sd * _PRIOR_INFLATION[0], np.inf)
    eps[:, t] = e
    kind[:, t] = FLAT


def _seasonal(
    x: np.ndarray,
    begin: int,
    until: int,
    weeks: int,
    expected: np.ndarray,
    prior_sd: np.ndarray,
    eps: np.ndarray,
    kind: np.ndarray,
) -> None:
    """Weekly-profile baseline from the `weeks` whole weeks before each day t in [begin, until)."""
    width = weeks * SEASON
    if begin >= until:
        return
    t = np.arange(begin, until)
    s = x.shape[0]
    # Window of day t: x[t - width : t]. Its first day has t's weekday, as width is whole weeks.
    blocks = sliding_window_view(x, width, axis=1)[:, t - width].reshape(s, len(t), weeks, SEASON)
    means = blocks.mean(axis=3, keepdims=True)
    ratio = blocks / np.where(means > 0, means, 1.0)
    profile = _median_small(ratio, axis=2)
    norm = profile.mean(axis=2, keepdims=True)
    profile = np.where(norm > 0, profile / np.where(norm > 0, norm, 1.0), 1.0)
    # Level: median of last week's deseasonalised days, skipping near-idle days (tiny factors amplify noise).
    last = blocks[:, :, -1, :]
    usable = profile >= 0.2
    deseason = np.where(usable, last / np.where(usable, profile, 1.0), np.nan)
    level = _nanmedian(deseason)
    level = np.where(np.isnan(level), last.mean(axis=2), level)
    e = EPS_SHARE * np.maximum(means.mean(axis=(2, 3)), 1e-9)
    fitted = means * profile[:, :, None, :]
    resid = _log_ratio(blocks, fitted, e[:, :, None, None]).reshape(s, len(t), width)
    # The fit's residuals are centred by construction: median |residual| is the MAD.
    sd = MAD_TO_SD * np.median(np.abs(resid), axis=2)
    expected[:, t] = level * profile[:, :, 0]
    prior_sd[:, t] = sd * _PRIOR_INFLATION[weeks]
    eps[:, t] = e
    kind[:, t] = SEASONAL


def _z(x: np.ndarray, expected: np.ndarray, prior_sd: np.ndarray, eps: np.ndarray, learn: np.ndarray) -> np.ndarray:
    """Log error over a scale learnt from the errors of the earlier `learn` days.

    The scale of day t is the root mean square of the baseline's own errors on the (up to 56) days before t,
    each clipped at 3 of its day's prior scale (so one outage cannot blow it up): out of sample, so it
    includes how wrong the expected value itself tends to be. The in-window residual spread (inflated) is a
    prior worth PRIOR_WEIGHT days, which carries young series. A scale learnt from few days is uncertain,
    so the t-like ratio becomes the normal z of equal tail probability (Wallace's approximation): a young
    series needs a larger deviation to be unusual.
    """
    err = _log_ratio(x, expected, eps)  # NaN where there is no baseline
    use = learn & np.isfinite(err) & np.isfinite(prior_sd)
    clipped = np.where(use, np.minimum(np.abs(np.nan_to_num(err)), 3 * np.where(use, prior_sd, 0.0)), 0.0)
    zero = np.zeros((x.shape[0], 1))
    c2 = np.concatenate([zero, np.cumsum(clipped**2, axis=1)], axis=1)
    cn = np.concatenate([zero, np.cumsum(use, axis=1)], axis=1)
    t = np.arange(x.shape[1])
    lo = np.maximum(t - SCALE_WINDOW, 0)
    sum2 = c2[:, t] - c2[:, lo]
    count = cn[:, t] - cn[:, lo]
    var = (sum2 / WINSOR_CONSISTENCY**2 + PRIOR_WEIGHT * prior_sd**2) / (count + PRIOR_WEIGHT)
    ratio = err / np.maximum(np.sqrt(var), MIN_LOG_SD)
    dof = count + PRIOR_DOF
    with np.errstate(invalid="ignore"):
        z = np.sign(ratio) * (8 * dof + 1) / (8 * dof + 3) * np.sqrt(dof * np.log1p(ratio * ratio / dof))
    return np.asarray(z, dtype=float)


def _log_ratio(actual: np.ndarray, expected: np.ndarray, eps: np.ndarray) -> np.ndarray:
    return np.asarray(np.log((actual + eps) / (expected + eps)), dtype=float)


def _median_small(a: np.ndarray, axis: int) -> np.ndarray:
    """Median of 2 or 4 values along `axis` without sorting: the mean, or (sum - max - min) / 2."""
    if a.shape[axis] == 4:
        return np.asarray((a.sum(axis=axis) - a.max(axis=axis) - a.min(axis=axis)) / 2, dtype=float)
    return np.asarray(np.median(a, axis=axis), dtype=float)


def _nanmedian(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (NaN when all are); faster than np.nanmedian on short rows."""
    ordered = np.sort(a, axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(a), axis=-1)
    safe = np.maximum(count, 1)
    low = np.take_along_axis(ordered, ((safe - 1) // 2)[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, (safe // 2)[..., None], axis=-1)[..., 0]
    return np.where(count > 0, (low + high) / 2, np.nan)
