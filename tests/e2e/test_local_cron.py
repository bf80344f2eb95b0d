"""The local scheduler's reading of EventBridge schedule expressions, and the events it sends."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from local.sam_template import load_template
from local.scheduler import Cron, Schedule, Scheduler


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_cron_fires_next_at_one_utc() -> None:
    schedule = Schedule("job", "rule", "cron(0 1 * * ? *)")

    assert schedule.next_after(at("2026-11-27T07:00:00")) == at("2026-11-28T01:00:00")
    assert schedule.next_after(at("2026-11-27T00:59:59")) == at("2026-11-27T01:00:00")
    # Strictly after: a run at 01:00 is not due again at 01:00.
    assert schedule.next_after(at("2026-11-27T01:00:00")) == at("2026-11-28T01:00:00")


def test_steps_lists_and_ranges() -> None:
    cron = Cron.parse("cron(0/15 8-10,18 ? * MON-FRI *)")

    assert cron.minutes == {0, 15, 30, 45}
    assert cron.hours == {8, 9, 10, 18}
    assert cron.days_of_week == {2, 3, 4, 5, 6}  # AWS numbers Sunday as 1
    assert cron.days_of_month is None


def test_day_of_week_skips_the_weekend() -> None:
    cron = Cron.parse("30 9 ? * MON-FRI *")

    # 2026-11-27 is a Friday: after its 09:30 the next run is Monday's.
    assert cron.next_after(datetime(2026, 11, 27, 10, 0)) == datetime(2026, 11, 30, 9, 30)


def test_day_of_month_month_and_year() -> None:
    cron = Cron.parse("cron(0 12 1 JAN,JUL ? 2027-2028)")

    assert cron.next_after(datetime(2026, 11, 27)) == datetime(2027, 1, 1, 12, 0)
    assert cron.next_after(datetime(2027, 1, 1, 12, 0)) == datetime(2027, 7, 1, 12, 0)
    assert cron.next_after(datetime(2028, 7, 1, 12, 0)) is None  # no year left


def test_rate_expression() -> None:
    schedule = Schedule("job", "rule", "rate(5 minutes)")

    assert schedule.next_after(at("2026-11-27T07:00:30")) == at("2026-11-27T07:05:00")


def test_schedule_timezone() -> None:
    schedule = Schedule("job", "rule", "cron(0 9 * * ? *)", timezone="Europe/Paris", kind="ScheduleV2")

    assert schedule.next_after(at("2026-11-27T07:00:00")) == at("2026-11-27T08:00:00")  # 09:00 CET


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 1 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 1 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 1 * * ?)", "6 fields"),
        ("cron(60 1 * * ? *)", "outside 0-59"),
        ("cron(0 1 L * ? *)", "L, W or #"),
        ("cron(0 1 ? * 2#1 *)", "L, W or #"),
        ("cron(0 5-1 * * ? *)", "runs backwards"),
        ("cron(0 1 * FOO ? *)", "not a number or name"),
    ],
)
def test_invalid_cron_is_refused_with_the_reason(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cron.parse(expression)


def test_scheduled_event_is_an_eventbridge_scheduled_event() -> None:
    event = Schedule("run_daily_aggregation", "finops-dev-daily-aggregation", "cron(0 1 * * ? *)").event(
        at("2026-11-28T01:00:00")
    )

    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-28T01:00:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/finops-dev-daily-aggregation"]
    assert event["detail"] == {}


def test_template_schedules_parse_and_the_daily_job_runs_at_one_utc() -> None:
    schedules = load_template().schedules

    for schedule in schedules:
        assert schedule.next_after(at("2026-11-27T07:00:00")) is not None, schedule.expression
    daily = next(s for s in schedules if s.function == "run_daily_aggregation")
    assert daily.next_after(at("2026-11-27T07:00:00")) == at("2026-11-28T01:00:00")


def test_scheduler_fires_a_due_schedule_with_its_scheduled_time() -> None:
    # Given a clock half a second before a minute-by-minute schedule is due, running at real speed
    started = time.monotonic()
    fired: list[tuple[str, str]] = []
    done = threading.Event()

    def clock() -> datetime:
        return at("2026-11-27T07:00:59.500") + timedelta(seconds=time.monotonic() - started)

    def run(schedule: Schedule, event: dict) -> None:
        fired.append((schedule.function, event["time"]))
        done.set()

    scheduler = Scheduler([Schedule("job", "rule", "cron(* * * * ? *)")], run, log=lambda _: None, clock=clock)

    # When it runs for a moment
    scheduler.start()
    assert done.wait(timeout=5)
    scheduler.stop()

    # Then the job ran once, with the scheduled minute as the event's time
    assert fired == [("job", "2026-11-27T07:01:00Z")]
