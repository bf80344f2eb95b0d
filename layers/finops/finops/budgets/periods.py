"""Budget periods: calendar periods in UTC, the first one starting on the budget's start date.

Monthly periods start on the 1st, quarterly ones on Jan/Apr/Jul/Oct 1st, annual ones on Jan 1st. A budget
starting mid-period has a shorter first period (from its start date to the calendar period's end).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, order=True)
class BudgetPeriod:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def calendar_period(period: str, day: date) -> BudgetPeriod:
    if period == "daily":
        return BudgetPeriod(day, day)
    if period == "monthly":
        return BudgetPeriod(day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1]))
    if period == "quarterly":
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = date(day.year, first_month, 1)
        last_month = first_month + 2
        return BudgetPeriod(start, date(day.year, last_month, calendar.monthrange(day.year, last_month)[1]))
    if period == "annual":
        return BudgetPeriod(date(day.year, 1, 1), date(day.year, 12, 31))
    raise ValueError(f"unknown period {period!r}")


def period_containing(period: str, start_date: date, day: date) -> BudgetPeriod | None:
    """The budget period that contains `day`, or None before the budget starts."""
    if day < start_date:
        return None
    bounds = calendar_period(period, day)
    return BudgetPeriod(max(bounds.start, start_date), bounds.end)


def next_period(period: str, start_date: date, current: BudgetPeriod) -> BudgetPeriod:
    following = period_containing(period, start_date, current.end + timedelta(days=1))
    assert following is not None
    return following
