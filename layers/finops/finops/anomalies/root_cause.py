"""Root cause of an anomalous day: which model, region or service values moved the total, and what is new.

Each dimension partitions the same daily total, so within one dimension the values' changes add up to the
day's difference from its baseline; a value's `share` is its part of that difference (shares of a dimension
sum to 1; a value that moved against the anomaly has a negative share). The baseline is the mean daily cost
of each value over a window before the day (the caller's choice, typically the detector's 28 days), rescaled
to the detector's expected total so that the weekday effect is not mistaken for a cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

# A value explains too little to be listed below this share of the difference (new values are always listed).
MIN_SHARE = 0.1
# New values costing less than this share of the day's |difference| are noise (a test call in a new region).
MIN_NEW_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Contributor:
    dimension: str  # model, region or service
    value: str
    actual: float  # cost on the anomalous day
    expected: float  # baseline daily cost, rescaled to the expected total
    change: float  # actual - expected (USD)
    share: float  # change / the day's total difference
    new: bool  # no cost in the baseline window: first seen on this day (within the window)


class _Move(NamedTuple):
    """How one value of a dimension moved on the day, before its share of the difference is known."""

    value: str
    actual: float
    expected: float
    change: float
    new: bool


def root_cause(
    day_costs: Mapping[str, Mapping[str, float]],
    baseline_costs: Mapping[str, Mapping[str, float]],
    *,
    expected_total: float | None = None,
    per_dimension: int = 2,
) -> list[Contributor]:
    """The values that drove the difference, largest first: per dimension, the top `per_dimension` values
    moving with the anomaly (at least 10% of it), plus every value new on the day (at least 1% of it).

    `day_costs` and `baseline_costs` map dimension -> value -> cost (USD; the baseline as a mean daily cost).
    A value missing from the baseline, or at zero there, is new.
    """
    found: list[Contributor] = []
    for dimension, day in day_costs.items():
        baseline = dict(baseline_costs.get(dimension, {}))
        base_total = sum(v for v in baseline.values() if v > 0)
        factor = expected_total / base_total if expected_total is not None and base_total > 0 else 1.0
        values = set(day) | set(baseline)
        moves = []
        for value in values:
            actual = float(day.get(value, 0.0))
            expected = max(float(baseline.get(value, 0.0)), 0.0) * factor
            moves.append(_Move(value, actual, expected, actual - expected, expected <= 0 and actual > 0))
        difference = sum(move.change for move in moves)
        if difference == 0:
            continue
        moving = sorted((m for m in moves if m.change / difference >= MIN_SHARE), key=lambda m: -abs(m.change))
        chosen = {m.value for m in moving[:per_dimension]}
        chosen |= {m.value for m in moves if m.new and m.actual >= MIN_NEW_SHARE * abs(difference)}
        for m in moves:
            if m.value in chosen:
                found.append(
                    Contributor(dimension, m.value, m.actual, m.expected, m.change, m.change / difference, m.new)
                )
    found.sort(key=lambda c: (-abs(c.change), c.dimension, c.value))
    return found
