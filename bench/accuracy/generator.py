"""Synthetic daily spend with known anomalies: what the accuracy bench forecasts and scans.

A series is the sum of a few services, each with its own size, weekly pattern (business days, flat, a weekly
batch day, nearly idle weekends), growth, and multiplicative AR(1) noise. On top of that, as real spend does:

- level shifts (a service's spend steps to 40-70% or 140-200% of what it was, and stays there), one per
  150 days on average;
- new services appearing (a step, or a ramp over 2-3 days, to 30-100% of the current total), in 30% of series;
- spikes (a service adds 60-300% of the day's total, for 1 day, sometimes 2), one per 60 days;
- outages and holidays (every service falls to 0-50% for 1-2 days), one per 120 days.
Events are at least a week apart, so that each day's truth is unambiguous.

Every event is recorded. An event is *labelled* (it must be found: it counts for recall) when its first day
moves the total by a factor of at least 1.3 either way (+30% or -23%) and by 4 noise standard deviations (both
in log terms, like the noise), and by at least the minimum impact in USD:
by the issue's own definition anything smaller is not an anomaly worth reporting. Smaller injected events
are kept but unlabelled: a detection on them is neither a hit nor a false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

SERVICES = ("compute", "storage", "ai-inference", "egress", "exports", "vector-db", "batch-training", "search")
PROFILES = ("business", "flat", "batch_day", "idle_weekend")
LABEL_MIN_FACTOR = 1.3
LABEL_MIN_SIGMAS = 4.0
# Where a detection still counts as the event: the event's days, and for steps the two days after
# (a detector may confirm a level change a day late).
STEP_GRACE_DAYS = 2
# Mean days between events of each kind, and the chance that a series gains a new service.
SPIKE_EVERY = 60
OUTAGE_EVERY = 120
LEVEL_SHIFT_EVERY = 150
NEW_SERVICE_CHANCE = 0.3
MIN_GAP_DAYS = 7


@dataclass(frozen=True, slots=True)
class InjectedAnomaly:
    start: int
    days: int  # the span in which a detection matches this event
    kind: str  # spike | outage | level_shift | new_service
    direction: str  # up | down
    service: str | None  # the service that caused it (None: all of them)
    change: float  # relative change of the total on the first day
    impact: float  # USD change of the total on the first day
    labelled: bool


@dataclass(slots=True)
class GeneratedSeries:
    start: date
    values: np.ndarray  # total daily spend
    services: dict[str, np.ndarray]  # per-service spend, summing to `values`
    noise_sd: float  # relative noise of the total (marginal, median over the weekdays)
    anomalies: list[InjectedAnomaly] = field(default_factory=list)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(len(self.values))]


def _weekly(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "business":
        weekend = rng.uniform(0.3, 0.8)
        return np.array([1, 1, 1, 1, 1, weekend, weekend])
    if kind == "batch_day":
        profile = np.ones(7)
        profile[rng.integers(7)] = rng.uniform(1.3, 2.0)
        return profile
    if kind == "idle_weekend":
        return np.array([1, 1, 1, 1, 1, 0.05, 0.05])
    return np.ones(7)


def generate_series(
    rng: np.random.Generator, days: int, *, min_impact_usd: float, start: date = date(2026, 1, 5)
) -> GeneratedSeries:
    """One tenant-category series of `days` days with its injected events."""
    scale = float(np.clip(rng.lognormal(np.log(400), 1.3), 20, 50_000))
    n_services = int(min(1 + rng.poisson(1.5), 5))
    names = list(rng.choice(SERVICES, size=n_services, replace=False))
    shares = rng.dirichlet(np.ones(n_services) * 1.5)
    t = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(i))).weekday() for i in range(7)])  # weekday of t % 7
    clean: dict[str, np.ndarray] = {}
    noisy: dict[str, np.ndarray] = {}
    sigmas = []
    for name, share in zip(names, shares, strict=True):
        profile = _weekly(str(rng.choice(PROFILES, p=[0.45, 0.25, 0.15, 0.15])), rng)
        growth = rng.normal(0.001, 0.002)
        base = scale * share * np.exp(growth * t) * profile[weekday[t % 7]]
        sigma = rng.uniform(0.03, 0.15)
        phi = rng.uniform(0.0, 0.5)
        eps = rng.normal(0, sigma, days)
        ar = np.empty(days)
        ar[0] = eps[0] / np.sqrt(1 - phi**2)
        for i in range(1, days):
            ar[i] = phi * ar[i - 1] + eps[i]
        clean[name] = base
        noisy[name] = np.exp(ar - 0.5 * (sigma**2 / (1 - phi**2)))
        sigmas.append(sigma / np.sqrt(1 - phi**2))

    def noise_on(day: int) -> float:
        """Relative noise of the total on a day: the services' noises weighted by their size that day."""
        sizes = np.array([clean[name][day] for name in names])
        return float(np.sqrt(np.sum((sizes * np.array(sigmas)) ** 2)) / max(sizes.sum(), 1e-9))

    noise_sd = float(np.median([noise_on(d) for d in range(7)]))

    events: list[tuple[str, int, int, str | None, float]] = []
    taken: list[int] = []

    def free_day() -> int | None:
        # Events at least MIN_GAP_DAYS apart, from day 28 (earlier days have no baseline to be scored against):
        # two events on one day would make the truth ambiguous (a spike hidden by an outage).
        for _ in range(20):
            day = int(rng.integers(28, days))
            if all(abs(day - other) >= MIN_GAP_DAYS for other in taken):
                taken.append(day)
                return day
        return None

    kinds = (
        ["level_shift"] * rng.poisson(days / LEVEL_SHIFT_EVERY)
        + ["new_service"] * int(rng.random() < NEW_SERVICE_CHANCE and n_services < len(SERVICES))
        + ["spike"] * rng.poisson(days / SPIKE_EVERY)
        + ["outage"] * rng.poisson(days / OUTAGE_EVERY)
    )
    for kind in kinds:
        day = free_day()
        if day is None:
            continue
        if kind == "level_shift":
            factor = rng.uniform(0.4, 0.7) if rng.random() < 0.4 else rng.uniform(1.4, 2.0)
            events.append((kind, day, 1, str(rng.choice(names)), factor))
        elif kind == "new_service":
            new_name = str(rng.choice([s for s in SERVICES if s not in names]))
            events.append((kind, day, int(rng.integers(1, 4)), new_name, rng.uniform(0.3, 1.0)))
        elif kind == "spike":
            events.append((kind, day, 1 if rng.random() < 0.8 else 2, str(rng.choice(names)), rng.uniform(0.6, 3.0)))
        else:
            events.append((kind, day, int(rng.integers(1, 3)), None, rng.uniform(0.0, 0.5)))
    events.sort(key=lambda e: e[1])

    services = {name: clean[name] * noisy[name] for name in names}
    anomalies = []
    for kind, day, length, name, size in events:
        before = float(sum(s[day] for s in services.values()))
        if kind == "level_shift":
            assert name is not None
            services[name][day:] *= size
        elif kind == "new_service":
            assert name is not None
            level = size * float(sum(clean[s][day] for s in clean))
            ramp = np.minimum((np.arange(days - day) + 1) / length, 1.0)
            series = np.zeros(days)
            series[day:] = level * ramp * np.exp(rng.normal(0, 0.05, days - day))
            services[name] = series
        elif kind == "spike":
            assert name is not None
            for d in range(day, min(day + length, days)):
                total_d = float(sum(s[d] for s in services.values()))
                services[name][d] += size * total_d
        else:
            for s in services.values():
                s[day : day + length] *= size
        after = float(sum(s[day] for s in services.values()))
        change = (after - before) / before if before > 0 else np.inf
        impact = after - before
        # In log terms, like the noise: a factor 1.3 either way (+30% or -23%) and 4 noise standard deviations.
        factor = np.log(after / before) if before > 0 and after > 0 else np.inf
        labelled = (
            abs(factor) >= max(np.log(LABEL_MIN_FACTOR), LABEL_MIN_SIGMAS * noise_on(day))
            and abs(impact) >= min_impact_usd
        )
        match_days = length + (STEP_GRACE_DAYS if kind in ("level_shift", "new_service") else 0)
        anomalies.append(
            InjectedAnomaly(
                start=day,
                days=match_days,
                kind=kind,
                direction="up" if impact > 0 else "down",
                service=name,
                change=float(change),
                impact=float(impact),
                labelled=bool(labelled),
            )
        )
    values = np.sum(list(services.values()), axis=0)
    return GeneratedSeries(start=start, values=values, services=services, noise_sd=noise_sd, anomalies=anomalies)


def generate(seed: int, count: int, days: int, *, min_impact_usd: float) -> list[GeneratedSeries]:
    rng = np.random.default_rng(seed)
    return [generate_series(rng, days, min_impact_usd=min_impact_usd) for _ in range(count)]
