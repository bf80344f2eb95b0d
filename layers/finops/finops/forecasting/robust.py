"""Robust pre-processing: one-day spikes and outages are replaced before any method fits the history.

A spike (a one-off batch job, a runaway loop) or an outage day says nothing about the days to come, yet it
drags a least-squares fit or a smoothing recursion for weeks. The history is compared with a robust local
fit (centred 7-day median times a weekly profile); days far outside it (by median absolute deviation) are
replaced by that fit. A level shift is not an outlier for a centred median, so it survives the cleaning and
the methods follow it.
"""

from __future__ import annotations

import numpy as np

from finops.forecasting.stats import SEASON, centred_median, weekly_ratio_profile

# 1.4826 * MAD estimates the standard deviation of normal noise.
MAD_TO_SD = 1.4826
# Days beyond this many robust standard deviations are outliers; high enough that ordinary noise never is.
OUTLIER_Z = 7.0
# An "outlier" on more than this share of days is the series' nature (intermittent spend), not an accident.
MAX_OUTLIER_SHARE = 0.1


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
