"""The forecasting methods, pure fits of the cleaned history, each computing its forecast paths from many
origins at once; `candidate_paths` gives the paths a method's forecast is made of (six for `auto`).

`origin` t means "the history is y[:t]"; a path is the forecast of y[t], y[t+1], ... Every method returns a
(len(origins), horizon) array, so the backtest over dozens of origins costs one vectorised call, not dozens
of fits. Where a method has parameters (Holt-Winters), they are fitted once on the whole history and reused
at every origin: a little look-ahead in the backtest, in exchange for a forecast well under 10 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from finops.forecasting.stats import SEASON, centred_median, nan_median, weekly_ratio_profile

MOVING_AVERAGE_DAYS = 7  # a whole week, so the weekly pattern averages out of the level


def candidate_paths(
    method: str, y: np.ndarray, origins: np.ndarray, horizon: int, *, weekday_weeks: int, level_days: int
) -> dict[str, np.ndarray]:
    """The paths of the candidates a method's forecast is made of: the method itself, or for `auto` the six it
    combines (`weekday_weeks`: the weekday median's and mean's window; `level_days`: the robust level's)."""
    if method == "moving_average":
        return {method: moving_average_paths(y, origins, horizon)}
    if method == "seasonal_naive":
        return {method: seasonal_naive_paths(y, origins, horizon)}
    if method == "seasonal":
        return {method: fit_holt_winters(y).paths(origins, horizon)}
    if method != "auto":
        raise ValueError(f"{method!r} is not a method of paths")
    profile = weekly_profile(y)
    return {
        "seasonal": fit_holt_winters(y).paths(origins, horizon),
        "weekly_profile": profile_paths(y, origins, horizon, profile),
        "robust_profile": robust_profile_paths(y, origins, horizon, profile, level_days),
        "seasonal_naive": seasonal_naive_paths(y, origins, horizon),
        "weekday_median": weekday_median_paths(y, origins, horizon, weekday_weeks),
        "weekday_mean": weekday_mean_paths(y, origins, horizon, weekday_weeks),
    }


def seasonal_naive_paths(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed week."""
    steps = np.arange(horizon)
    return y[origins[:, None] - SEASON + (steps % SEASON)[None, :]]


def moving_average_paths(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The mean of the last week, projected flat."""
    csum = np.concatenate([[0.0], np.cumsum(y)])
    level = (csum[origins] - csum[origins - MOVING_AVERAGE_DAYS]) / MOVING_AVERAGE_DAYS
    return np.repeat(level[:, None], horizon, axis=1)


def weekly_profile(y: np.ndarray) -> np.ndarray:
    """Day-of-week factors from the last eight weeks, shrunk towards flat when there are few weeks."""
    recent = y[-8 * SEASON :]
    offset = len(y) - len(recent)
    # Keep the phase of the full series: factor k applies to every index i with i % 7 == k.
    profile = np.roll(weekly_ratio_profile(recent, centred_median(recent)), offset % SEASON)
    weeks = len(recent) / SEASON
    profile = 1 + (profile - 1) * weeks / (weeks + 1)
    return np.asarray(profile / profile.mean(), dtype=float)


def profile_paths(y: np.ndarray, origins: np.ndarray, horizon: int, profile: np.ndarray) -> np.ndarray:
    """Level of the last week (deseasonalised) times the day-of-week factor: a seasonal moving average."""
    csum = np.concatenate([[0.0], np.cumsum(y)])
    level = (csum[origins] - csum[origins - SEASON]) / SEASON  # a whole week: the factors average to 1
    phase = (origins[:, None] + np.arange(horizon)[None, :]) % SEASON
    return np.asarray(level[:, None] * profile[phase], dtype=float)


def weekday_median_paths(y: np.ndarray, origins: np.ndarray, horizon: int, weeks: int = 4) -> np.ndarray:
    """Each weekday's median over the last `weeks` weeks (fewer when the origin has fewer): one burst or one
    quiet day in those weeks does not move it, which makes it hard to beat on bursty series."""
    return _weekday_stat_paths(y, origins, horizon, weeks, nan_median)


def weekday_mean_paths(y: np.ndarray, origins: np.ndarray, horizon: int, weeks: int = 4) -> np.ndarray:
    """Each weekday's mean over the last `weeks` weeks: a seasonal window average."""
    return _weekday_stat_paths(y, origins, horizon, weeks, np.nanmean)


def _weekday_stat_paths(
    y: np.ndarray, origins: np.ndarray, horizon: int, weeks: int, stat: Callable[..., np.ndarray]
) -> np.ndarray:
    back = SEASON * np.arange(1, weeks + 1)
    # Day origin - 7w + k has the weekday of origin + k (and of every step h with h % 7 == k).
    index = origins[:, None, None] - back[None, :, None] + np.arange(SEASON)[None, None, :]
    same_weekday = np.where(index >= 0, y[np.maximum(index, 0)], np.nan)
    profile = stat(same_weekday, axis=1)  # (origins, 7): never all NaN, as every origin has a week before it
    return np.asarray(profile[:, np.arange(horizon) % SEASON], dtype=float)


def robust_profile_paths(
    y: np.ndarray, origins: np.ndarray, horizon: int, profile: np.ndarray, days: int = 2 * SEASON
) -> np.ndarray:
    """Median of the last `days` deseasonalised days times the day-of-week factor: `profile_paths` with a
    level that a burst in the last weeks does not drag up."""
    index = origins[:, None] - days + np.arange(days)[None, :]
    safe = np.maximum(index, 0)
    factors = profile[safe % SEASON]
    deseasonalised = np.where((index >= 0) & (factors > 0), y[safe] / np.where(factors > 0, factors, 1.0), np.nan)
    level = nan_median(deseasonalised, axis=1)
    level = np.where(np.isnan(level), 0.0, level)
    phase = (origins[:, None] + np.arange(horizon)[None, :]) % SEASON
    return np.asarray(level[:, None] * profile[phase], dtype=float)


@dataclass(frozen=True, slots=True)
class HoltWinters:
    """Additive Holt-Winters with a damped trend and a weekly season, fitted by a small grid search."""

    alpha: float
    beta: float
    gamma: float
    phi: float
    level: np.ndarray  # level after each day
    trend: np.ndarray
    season: np.ndarray  # the seasonal term updated on each day
    season0: np.ndarray  # the initial seasonal terms, by phase

    def paths(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        steps = np.arange(1, horizon + 1)
        damped = self.phi * (1 - self.phi**steps) / (1 - self.phi)  # phi < 1 on the whole grid
        last = origins[:, None] - 1
        target = last + steps[None, :]
        # The latest seasonal term of the target's phase known at the origin.
        source = last - ((last - target) % SEASON)
        season = np.where(source >= 0, self.season[np.maximum(source, 0)], self.season0[target % SEASON])
        return np.asarray(self.level[last] + damped[None, :] * self.trend[last] + season, dtype=float)


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    alphas, beta_ratios, gammas, phis = np.meshgrid(
        [0.05, 0.15, 0.3, 0.5, 0.7], [0.0, 0.1], [0.01, 0.1, 0.25], [0.8, 0.9, 0.98], indexing="ij"
    )
    alpha = alphas.ravel()
    gamma = np.minimum(gammas.ravel(), 0.95 * (1 - alpha))
    return alpha, alpha * beta_ratios.ravel(), gamma, phis.ravel()


_ALPHA, _BETA, _GAMMA, _PHI = _grid()


def _initial_state(y: np.ndarray) -> tuple[float, float, np.ndarray]:
    weeks = min(4, len(y) // SEASON)
    block = y[: weeks * SEASON].reshape(weeks, SEASON)
    means = block.mean(axis=1)
    season0 = (block - means[:, None]).mean(axis=0)
    trend0 = (means[1] - means[0]) / SEASON if weeks >= 2 else 0.0
    return float(means[0]), float(trend0), season0


def fit_holt_winters(y: np.ndarray) -> HoltWinters:
    """Grid search on one-step squared errors (after a one-week burn-in), all candidates in one pass."""
    level0, trend0, season0 = _initial_state(y)
    size = len(_ALPHA)
    level = np.full(size, level0)
    trend = np.full(size, trend0)
    season = np.tile(season0, (size, 1))
    sse = np.zeros(size)
    for t, value in enumerate(y):
        k = t % SEASON
        base = level + _PHI * trend
        err = value - (base + season[:, k])
        if t >= SEASON:
            sse += err * err
        level = base + _ALPHA * err
        trend = _PHI * trend + _BETA * err
        season[:, k] += _GAMMA * err
    best = int(np.argmin(sse))
    alpha, beta, gamma, phi = float(_ALPHA[best]), float(_BETA[best]), float(_GAMMA[best]), float(_PHI[best])
    # Replay the chosen parameters, keeping the states for the backtest's origins.
    n = len(y)
    levels, trends, seasons = np.empty(n), np.empty(n), np.empty(n)
    lv, tr, ss = level0, trend0, season0.copy()
    for t in range(n):
        k = t % SEASON
        base = lv + phi * tr
        err = float(y[t]) - (base + ss[k])
        lv = base + alpha * err
        tr = phi * tr + beta * err
        ss[k] += gamma * err
        levels[t], trends[t], seasons[t] = lv, tr, ss[k]
    return HoltWinters(alpha, beta, gamma, phi, levels, trends, seasons, season0)


@dataclass(frozen=True, slots=True)
class LinearPaths:
    """Ordinary least squares on day number, refitted on the expanding history of every origin."""

    values: np.ndarray  # (origins, horizon)
    se: np.ndarray  # prediction standard error of each point (parameter uncertainty included)
    sigma: np.ndarray  # residual standard deviation at each origin
    dof: np.ndarray  # residual degrees of freedom at each origin
    total_se: np.ndarray  # (origins, horizon): standard error of the cumulative sum up to each step


def linear_paths(y: np.ndarray, origins: np.ndarray, horizon: int) -> LinearPaths:
    x = np.arange(len(y), dtype=float)
    zero = np.zeros(1)
    c1 = np.concatenate([zero, np.cumsum(x)])
    c2 = np.concatenate([zero, np.cumsum(x * x)])
    cy = np.concatenate([zero, np.cumsum(y)])
    cxy = np.concatenate([zero, np.cumsum(x * y)])
    cyy = np.concatenate([zero, np.cumsum(y * y)])
    t = origins.astype(float)
    sx, sxx, sy, sxy, syy = c1[origins], c2[origins], cy[origins], cxy[origins], cyy[origins]
    xbar = sx / t
    sxx_c = sxx - sx * xbar
    slope = (sxy - sx * sy / t) / sxx_c
    intercept = sy / t - slope * xbar
    sse = np.maximum(syy - intercept * sy - slope * sxy, 0.0)
    dof = t - 2
    sigma = np.sqrt(sse / dof)
    steps = np.arange(horizon, dtype=float)
    x0 = t[:, None] + steps[None, :]
    values = intercept[:, None] + slope[:, None] * x0
    lever = 1 / t[:, None] + (x0 - xbar[:, None]) ** 2 / sxx_c[:, None]
    se = sigma[:, None] * np.sqrt(1 + lever)
    # Sum of the first k forecasts: k independent noises plus the error of k*intercept + slope*sum(x0).
    k = steps[None, :] + 1
    gsum = np.cumsum(x0, axis=1)
    # Var(k*a + b*g) with a, b the OLS estimates: sigma^2 * (k^2/t + (g - k*xbar)^2 / sxx_c).
    param_var = k**2 / t[:, None] + (gsum - k * xbar[:, None]) ** 2 / sxx_c[:, None]
    total_se = sigma[:, None] * np.sqrt(k + param_var)
    return LinearPaths(values, se, sigma, dof, total_se)
