"""What the cost-explorer endpoints do, one function each; handlers only call these."""

from __future__ import annotations

import calendar
import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from finops.costs.models import (
    BreakdownResponse,
    CostRow,
    CostsResponse,
    Driver,
    MonthToDate,
    PeriodTotal,
    ShareRow,
    SummaryResponse,
    TopDriversResponse,
)
from finops.costs.queries import CostReader, CostScope, Dimension, DimensionCost, Granularity
from finops.models.common import MICRO, WIDE, quantize

DRIVER_DIMENSIONS: tuple[Dimension, ...] = ("category", "model", "region", "service")


def get_costs(
    client: Client, scope: CostScope, *, granularity: Granularity, group_by: Dimension | None
) -> CostsResponse:
    rows = CostReader(client).grouped(scope, granularity=granularity, dimension=group_by)
    return CostsResponse(
        **_about(scope),
        group_by=group_by,
        granularity=granularity,
        total=sum((row.cost for row in rows), Decimal(0)),
        rows=[CostRow(period=row.period, key=row.key, cost=row.cost) for row in rows],
    )


CSV_MEDIA_TYPE = "text/csv; charset=utf-8; header=present"  # RFC 4180 (and RFC 7111's header parameter)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def costs_as_csv(response: CostsResponse) -> str:
    """The rows of a costs reply as RFC 4180 CSV (CRLF line ends, fields quoted when they need it): period, key
    (with groupBy), cost, currency.

    Keys are service, model and region names that tenants chose, so a key that a spreadsheet would run as a
    formula gets a leading apostrophe, which shows it as text. Only text cells are neutralised: a cost is a
    number this code formats, and a negative one (a credit) must stay a number, `-12.5`, not become text.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    grouped = response.group_by is not None
    writer.writerow(["period", response.group_by, "cost", "currency"] if grouped else ["period", "cost", "currency"])
    for row in response.rows:
        cost = str(quantize(row.cost, MICRO))
        writer.writerow(
            [row.period.isoformat(), _text_cell(row.key or ""), cost, response.currency]
            if grouped
            else [row.period.isoformat(), cost, response.currency]
        )
    return out.getvalue()


def _text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_TRIGGERS) else value


def csv_attachment(response: CostsResponse) -> str:
    """The Content-Disposition of a costs export: a file name made of the tenant and the range, in characters
    every file system and header parser accepts."""
    tenant = re.sub(r"[^A-Za-z0-9._-]", "_", response.tenant_id)
    return f'attachment; filename="costs-{tenant}-{response.from_.isoformat()}-{response.to.isoformat()}.csv"'


def get_breakdown(client: Client, scope: CostScope, dimension: Dimension) -> BreakdownResponse:
    rows = CostReader(client).grouped(scope, granularity="total", dimension=dimension)
    total = sum((row.cost for row in rows), Decimal(0))
    shares = sorted(
        (ShareRow(key=row.key, cost=row.cost, share=_share(row.cost, total)) for row in rows if row.key),
        key=lambda r: (-r.cost, r.key),
    )
    return BreakdownResponse(
        **_about(scope),
        dimension=dimension,
        total=total,
        rows=shares,
    )


def get_top_drivers(client: Client, scope: CostScope, *, limit: int) -> TopDriversResponse:
    rows = CostReader(client).by_dimensions(scope, DRIVER_DIMENSIONS, with_previous=True)
    total = sum((row.cost for row in rows if row.dimension == "category"), Decimal(0))
    drivers = _drivers(rows, total)
    return TopDriversResponse(
        **_about(scope),
        total=total,
        drivers=drivers[:limit],
    )


def get_summary(client: Client, scope: CostScope, *, today: date | None = None) -> SummaryResponse:
    """Everything in one query over the effective rows: per dimension value the period's cost, the previous
    period's and the month to date's; the category rows give the totals."""
    today = today or datetime.now(UTC).date()
    reference = min(scope.end, today)
    month_start = reference.replace(day=1)
    days_in_month = calendar.monthrange(reference.year, reference.month)[1]
    rows = CostReader(client).by_dimensions(
        scope, DRIVER_DIMENSIONS, with_previous=True, extra=(month_start, reference)
    )
    categories = [row for row in rows if row.dimension == "category"]
    total = sum((row.cost for row in categories), Decimal(0))
    previous_total = sum((row.previous for row in categories), Decimal(0))
    mtd = sum((row.extra for row in categories), Decimal(0))
    elapsed = (reference - month_start).days + 1
    previous = scope.previous()
    return SummaryResponse(
        **_about(scope),
        total=total,
        previous_period=PeriodTotal(from_=previous.start, to=previous.end, total=previous_total),
        change_percent=_change(total, previous_total),
        by_category=sorted(
            (
                ShareRow(key=row.key, cost=row.cost, share=_share(row.cost, total))
                for row in categories
                if row.cost != 0
            ),
            key=lambda r: (-r.cost, r.key),
        ),
        top_drivers=_drivers(rows, total)[:5],
        month_to_date=MonthToDate(
            from_=month_start,
            to=reference,
            total=mtd,
            run_rate=quantize(WIDE.multiply(WIDE.divide(mtd, Decimal(elapsed)), Decimal(days_in_month)), MICRO),
            days_in_month=days_in_month,
        ),
    )


def _about(scope: CostScope) -> dict[str, Any]:
    """What every reply says of its scope: whose cost, which days, in which currency, which metric."""
    return {
        "tenant_id": scope.tenant_id,
        "from_": scope.start,
        "to": scope.end,
        "currency": scope.currency,
        "metric": scope.metric,
    }


def _drivers(rows: list[DimensionCost], total: Decimal) -> list[Driver]:
    return [
        Driver(
            dimension=row.dimension,
            key=row.key,
            cost=row.cost,
            share=_share(row.cost, total),
            previous_cost=row.previous,
            change_percent=_change(row.cost, row.previous),
        )
        for row in rows
        if row.cost != 0
    ]


def _share(cost: Decimal, total: Decimal) -> float:
    return float(round(cost / total, 6)) if total else 0.0


def _change(current: Decimal, previous: Decimal) -> float | None:
    return float(round((current - previous) / previous * 100, 2)) if previous else None
