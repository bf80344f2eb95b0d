"""Validate EventBridge schedule expressions, which cfn-lint and moto accept even when AWS would not.

AWS cron has six fields, `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, and exactly one of
day-of-month and day-of-week must be `?`. See "Schedule expressions" in the EventBridge user guide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MONTHS = {
    m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
}
WEEKDAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
RATE_UNITS = {"minute", "minutes", "hour", "hours", "day", "days"}


@dataclass(frozen=True)
class Cron:
    minutes: str
    hours: str
    day_of_month: str
    month: str
    day_of_week: str
    year: str


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minutes", 0, 59, {}),
    _Field("hours", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 1, 7, WEEKDAYS),
    _Field("year", 1970, 2199, {}),
)


class InvalidSchedule(ValueError):
    pass


def parse_schedule(expression: str) -> Cron | None:
    """Parse `cron(...)` (returned) or `rate(...)` (None); raise InvalidSchedule for anything else."""
    rate = re.fullmatch(r"rate\((\d+) (\w+)\)", expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or unit not in RATE_UNITS or (unit.endswith("s") != (value != 1)):
            raise InvalidSchedule(f"{expression}: a positive value with a matching unit (1 hour, 2 hours)")
        return None
    cron = re.fullmatch(r"cron\(([^()]*)\)", expression)
    if not cron:
        raise InvalidSchedule(f"{expression}: expected cron(...) or rate(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise InvalidSchedule(
            f"{expression}: AWS cron has 6 fields (minutes hours dom month dow year), not {len(fields)}"
        )
    for spec, value in zip(_FIELDS, fields, strict=True):
        _check_field(spec, value, expression)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise InvalidSchedule(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    return Cron(*fields)


def _check_field(spec: _Field, value: str, expression: str) -> None:
    def fail(why: str) -> InvalidSchedule:
        return InvalidSchedule(f"{expression}: {spec.name} {value!r}: {why}")

    if value == "?":
        if spec.name not in ("day-of-month", "day-of-week"):
            raise fail("'?' is only allowed in day-of-month and day-of-week")
        return
    for item in value.split(","):
        if not item:
            raise fail("empty list item")
        if spec.name == "day-of-month" and re.fullmatch(r"L|LW|\d{1,2}W", item):
            if item[0].isdigit() and not 1 <= int(item[:-1]) <= 31:
                raise fail("W needs a day 1-31")
            continue
        if spec.name == "day-of-week" and re.fullmatch(r"L|[1-7A-Z]{1,3}L|[1-7A-Z]{1,3}#[1-5]", item):
            base = item.rstrip("L").split("#")[0]
            if base:
                _value(spec, base, fail)
            continue
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise fail("the step after '/' must be a positive integer")
        if base == "*":
            continue
        low_text, dash, high_text = base.partition("-")
        low = _value(spec, low_text, fail)
        if dash and _value(spec, high_text, fail) < low and spec.name not in ("month", "day-of-week"):
            raise fail("range end before its start")


def _value(spec: _Field, text: str, fail: Callable[[str], InvalidSchedule]) -> int:
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    if not text.isdigit() or not spec.low <= int(text) <= spec.high:
        names = f" or {'/'.join(spec.names)}" if spec.names else ""
        raise fail(f"expected {spec.low}-{spec.high}{names}")
    return int(text)


def runs_daily_at(cron: Cron, hour: int, minute: int = 0) -> bool:
    """True when the expression fires once every day at hour:minute."""
    every_day = cron.day_of_month in ("*", "?") and cron.day_of_week in ("*", "?") and cron.month == "*"
    return every_day and cron.year == "*" and cron.minutes == str(minute) and cron.hours == str(hour)
