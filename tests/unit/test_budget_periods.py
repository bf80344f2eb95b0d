from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from finops.budgets.periods import calendar_period, next_period, period_containing

PERIODS = st.sampled_from(["daily", "monthly", "quarterly", "annual"])
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


def test_calendar_periods_follow_the_utc_calendar():
    day = date(2026, 5, 17)
    assert (calendar_period("daily", day).start, calendar_period("daily", day).end) == (day, day)
    assert (calendar_period("monthly", day).start, calendar_period("monthly", day).end) == (
        date(2026, 5, 1),
        date(2026, 5, 31),
    )
    assert (calendar_period("quarterly", day).start, calendar_period("quarterly", day).end) == (
        date(2026, 4, 1),
        date(2026, 6, 30),
    )
    assert (calendar_period("annual", day).start, calendar_period("annual", day).end) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert calendar_period("monthly", date(2028, 2, 10)).end == date(2028, 2, 29)


def test_first_period_starts_on_the_start_date_and_none_before():
    assert period_containing("monthly", date(2026, 5, 17), date(2026, 5, 16)) is None
    first = period_containing("monthly", date(2026, 5, 17), date(2026, 5, 20))
    assert (first.start, first.end) == (date(2026, 5, 17), date(2026, 5, 31))
    assert next_period("monthly", date(2026, 5, 17), first).start == date(2026, 6, 1)


@given(period=PERIODS, start=DAYS, offset=st.integers(min_value=0, max_value=800))
def test_the_period_containing_a_day_contains_it_and_periods_tile_without_gaps(period, start, offset):
    day = start + timedelta(days=offset)
    current = period_containing(period, start, day)
    assert current is not None
    assert current.start <= day <= current.end
    assert current.start >= start
    following = next_period(period, start, current)
    assert following.start == current.end + timedelta(days=1)
    assert following.start.day == 1 or period == "daily"
    if period == "quarterly":
        assert following.start.month in (1, 4, 7, 10)
