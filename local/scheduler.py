"""Run the template's scheduled functions on their schedules while the local server is up.

EventBridge schedule expressions: `cron(min hour day-of-month month day-of-week year)` with `*`, `?`, numbers,
names (JAN-DEC, SUN-SAT), lists, ranges and steps; and `rate(N unit)`. AWS's `L`, `W` and `#` are refused
with a clear error rather than silently misread. Like EventBridge, a run missed while the server was down is
not caught up.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"

_MONTHS = {
    m: i
    for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}  # AWS: 1 = Sunday
# (name, lowest, highest, names) of the six AWS cron fields.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)
_LAST_OR_WEEKDAY = re.compile(r"\d*L|\d+W|LW")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_LOOKAHEAD_DAYS = 366 * 5  # a cron with no match within five years is treated as never firing again


@dataclass(frozen=True)
class Cron:
    """A parsed AWS cron expression; `None` for day-of-month or day-of-week means `?` (no constraint)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        text = expression.strip()
        if text.startswith("cron(") and text.endswith(")"):
            text = text[5:-1]
        parts = text.split()
        if len(parts) != 6:
            raise ValueError(
                f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(parts)}: "
                f"{expression!r}"
            )
        if (parts[2] == "?") == (parts[4] == "?"):
            raise ValueError(f"exactly one of day-of-month and day-of-week must be '?': {expression!r}")
        values = [None if part == "?" else _parse_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        if values[0] is None or values[1] is None or values[3] is None or values[5] is None:
            raise ValueError(f"'?' is only allowed in day-of-month or day-of-week: {expression!r}")
        return cls(values[0], values[1], values[2], values[3], values[4], values[5])

    def matches_day(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        assert self.days_of_week is not None
        return day.isoweekday() % 7 + 1 in self.days_of_week  # Monday (1) -> 2 ... Sunday (7) -> 1

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching minute strictly after `moment`, in `moment`'s time zone (None if none soon)."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_LOOKAHEAD_DAYS):
            if self.matches_day(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=moment.tzinfo)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    result: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        if "#" in item or _LAST_OR_WEEKDAY.fullmatch(base.upper()):
            raise ValueError(f"{name}: {item!r} uses L, W or #, which the local scheduler does not support")
        step = _number(step_text, name, 1, high - low + 1, {}) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _number(first_text, name, low, high, names), _number(last_text, name, low, high, names)
            if first > last:
                raise ValueError(f"{name}: range {base!r} runs backwards")
        else:
            first = _number(base, name, low, high, names)
            last = high if step_text else first  # AWS reads `0/15` as "from 0, every 15"
        result.update(range(first, last + 1, step))
    return frozenset(result)


def _number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{name}: {text!r} is not a number{' or name' if names else ''}")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value


@dataclass(frozen=True)
class Schedule:
    """One schedule of a function, as the template declares it."""

    function: str  # folder under functions/
    name: str  # the logical id and event name, for logs and the rule ARN
    expression: str
    timezone: str = "UTC"
    kind: str = "Schedule"  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    input: str | None = None  # the template's Input: the payload sent instead of the default event

    def next_after(self, moment: datetime) -> datetime | None:
        zone = ZoneInfo(self.timezone)
        local = moment.astimezone(zone)
        if match := _RATE.match(self.expression.strip()):
            amount, unit = int(match.group(1)), match.group(2).rstrip("s")
            period = timedelta(**{f"{unit}s": amount})
            # Rates tick from the start of the minute after `moment`; EventBridge anchors them at creation.
            return (local.replace(second=0, microsecond=0) + period).astimezone(UTC)
        found = Cron.parse(self.expression).next_after(local.replace(tzinfo=None))
        return found.replace(tzinfo=zone).astimezone(UTC) if found else None

    def event(self, at: datetime) -> dict[str, Any]:
        """The payload EventBridge delivers: the template's Input if any, else a "Scheduled Event"."""
        if self.input is not None:
            payload: dict[str, Any] = json.loads(self.input)
            return payload
        scheduler = self.kind == "ScheduleV2"
        resource = (
            f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{self.name}"
            if scheduler
            else f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.name}"
        )
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler" if scheduler else "aws.events",
            "account": ACCOUNT_ID,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [resource],
            "detail": {},
        }


class Scheduler:
    """A daemon thread that calls `run(schedule, event)` at each schedule's next time."""

    def __init__(
        self,
        schedules: list[Schedule],
        run: Callable[[Schedule, dict[str, Any]], Any],
        *,
        log: Callable[[str], None] = print,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._schedules = schedules
        self._run = run
        self._log = log
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        for schedule in self._schedules:
            upcoming = schedule.next_after(self._clock())
            self._log(f"schedule: {schedule.function} {schedule.expression} next at {upcoming or 'never'}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        now = self._clock()
        upcoming = {s: s.next_after(now) for s in self._schedules}
        while not self._stop.is_set():
            pending = [at for at in upcoming.values() if at is not None]
            if not pending:
                return
            # Wake at the next due time, but at least once a minute so a clock jump is noticed.
            wait = min((min(pending) - self._clock()).total_seconds(), 60.0)
            if wait > 0 and self._stop.wait(wait):
                return
            now = self._clock()
            for schedule, at in upcoming.items():
                if at is not None and at <= now:
                    self._fire(schedule, at)
                    upcoming[schedule] = schedule.next_after(max(now, at))

    def _fire(self, schedule: Schedule, at: datetime) -> None:
        self._log(f"schedule: running {schedule.function} for {at.isoformat()}")
        try:
            self._run(schedule, schedule.event(at))
        except Exception:  # a failing job must not stop the other schedules
            self._log(f"schedule: {schedule.function} failed\n{traceback.format_exc()}")
