from datetime import date

import pytest

from finops.costs.params import make_scope, parse_categories
from finops.errors import InvalidRequest


def test_scope_previous_period_has_the_same_length_and_ends_the_day_before():
    scope = make_scope("acme", date(2026, 3, 1), date(2026, 3, 31), max_days=400)
    previous = scope.previous()
    assert previous.days == 31
    assert previous.end == date(2026, 2, 28)


def test_from_after_to_names_the_field():
    with pytest.raises(InvalidRequest) as refused:
        make_scope("acme", date(2026, 3, 2), date(2026, 3, 1), max_days=400)
    assert refused.value.field == "from"


def test_range_over_the_limit_names_the_rule():
    with pytest.raises(InvalidRequest, match="at most 400 days"):
        make_scope("acme", date(2025, 1, 1), date(2026, 2, 5), max_days=400)
    assert make_scope("acme", date(2025, 1, 1), date(2026, 2, 4), max_days=400).days == 400


def test_categories_are_parsed_case_insensitively_and_unknown_ones_refused():
    assert parse_categories("ai, Egress") == ("AI", "EGRESS")
    assert parse_categories("") == ()
    with pytest.raises(InvalidRequest, match="GPU"):
        parse_categories("AI,GPU")
