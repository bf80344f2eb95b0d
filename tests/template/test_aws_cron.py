"""The schedule validator the template tests rely on (cfn-lint would let these mistakes through)."""

from __future__ import annotations

import pytest

from tests.template.aws_cron import InvalidSchedule, parse_schedule, runs_daily_at


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 1 * * ? *)",
        "cron(15 2 ? * MON-FRI *)",
        "cron(0/5 8-17 ? * 2-6 *)",
        "cron(0 3 L * ? 2027)",
        "cron(0 0 ? * 6#3 *)",
        "cron(0 12 1,15 JAN-MAR ? *)",
        "cron(30 4 15W * ? *)",
        "rate(5 minutes)",
        "rate(1 day)",
    ],
)
def test_valid_expressions_are_accepted(expression: str) -> None:
    parse_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("cron(0 1 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 1 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 1 * * ?)", "6 fields"),
        ("cron(0 1 * * *)", "6 fields"),
        ("cron(60 1 * * ? *)", "minutes"),
        ("cron(0 24 * * ? *)", "hours"),
        ("cron(0 1 32 * ? *)", "day-of-month"),
        ("cron(0 1 ? 13 MON *)", "month"),
        ("cron(0 1 ? * 8 *)", "day-of-week"),
        ("cron(0 ? * * ? *)", "only allowed"),
        ("cron(0 5-2 * * ? *)", "range end"),
        ("cron(0/0 1 * * ? *)", "step"),
        ("rate(0 minutes)", "positive"),
        ("rate(1 minutes)", "matching unit"),
        ("every day at 1am", "expected cron"),
    ],
)
def test_invalid_expressions_are_rejected_with_the_reason(expression: str, why: str) -> None:
    with pytest.raises(InvalidSchedule, match=why):
        parse_schedule(expression)


def test_runs_daily_at_recognises_one_run_a_day() -> None:
    assert runs_daily_at(parse_schedule("cron(0 1 * * ? *)"), hour=1)  # type: ignore[arg-type]
    assert runs_daily_at(parse_schedule("cron(0 1 ? * * *)"), hour=1)  # type: ignore[arg-type]
    assert not runs_daily_at(parse_schedule("cron(0 1 ? * MON *)"), hour=1)  # type: ignore[arg-type]
    assert not runs_daily_at(parse_schedule("cron(0 2 * * ? *)"), hour=1)  # type: ignore[arg-type]
