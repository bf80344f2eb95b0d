"""The costs CSV export: RFC 4180, a file name, and no formula a spreadsheet would run."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from finops.costs.explorer import costs_as_csv, csv_attachment
from finops.costs.models import CostRow, CostsResponse

DAY = date(2026, 11, 2)


def export(*rows: tuple[str | None, str], group_by: str | None = "service", tenant: str = "acme") -> str:
    response = CostsResponse(
        tenant_id=tenant,
        from_=DAY,
        to=DAY,
        group_by=group_by,
        granularity="daily",
        total=sum((Decimal(cost) for _, cost in rows), Decimal(0)),
        rows=[CostRow(period=DAY, key=key, cost=Decimal(cost)) for key, cost in rows],
    )
    return costs_as_csv(response)


def test_lines_end_in_crlf_and_fields_are_quoted_when_they_need_it() -> None:
    text = export(("plain", "1"), ("a,b", "2"), ('say "hi"', "3"))

    assert text.split("\r\n") == [
        "period,service,cost,currency",
        "2026-11-02,plain,1.000000,USD",
        '2026-11-02,"a,b",2.000000,USD',
        '2026-11-02,"say ""hi""",3.000000,USD',
        "",
    ]


@pytest.mark.parametrize("key", ['=HYPERLINK("http://evil.test","x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"])
def test_a_tenant_chosen_key_that_a_spreadsheet_would_run_is_shown_as_text(key: str) -> None:
    row = next(csv.DictReader(io.StringIO(export((key, "1")), newline="")))

    assert row["service"] == "'" + key


def test_a_negative_cost_stays_a_number() -> None:
    # Credits (FOCUS imports) are negative: only text cells are neutralised, never the cost column.
    row = next(csv.DictReader(io.StringIO(export(("refund", "-12.5")), newline="")))

    assert (row["service"], row["cost"]) == ("refund", "-12.500000")


def test_without_group_by_there_is_no_key_column() -> None:
    assert export((None, "4"), group_by=None).split("\r\n")[:2] == ["period,cost,currency", "2026-11-02,4.000000,USD"]


def test_the_attachment_is_named_after_the_tenant_and_range_in_safe_characters() -> None:
    response = CostsResponse(
        tenant_id="org:acme.eu", from_=DAY, to=date(2026, 11, 30), granularity="daily", total=Decimal(0), rows=[]
    )

    assert csv_attachment(response) == 'attachment; filename="costs-org_acme.eu-2026-11-02-2026-11-30.csv"'
