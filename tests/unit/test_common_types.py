"""The shared types every request and reply uses: the date window, UTC times, money that never overflows, and
reply values their schema allows."""

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import jsonschema
import pytest
from pydantic import TypeAdapter, ValidationError

from finops.anomalies.models import AnomalyOut
from finops.budgets.policy import percent_used
from finops.models.common import EARLIEST_DATE, LATEST_DATE, MICRO, ApiDate, Money, UtcDateTime, quantize
from local.lambda_runtime import ROOT


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31), date(2100, 1, 1), date(9999, 12, 31)])
def test_a_day_outside_the_window_is_refused_naming_the_bound(day: date) -> None:
    with pytest.raises(ValidationError, match=r"2000-01-01|2099-12-31"):
        TypeAdapter(ApiDate).validate_python(day)


def test_every_day_the_code_derives_from_the_window_fits_clickhouse_date() -> None:
    # the furthest reaches: a 400-day previous period, 730 days of forecast history plus the anomaly baseline
    # (90 + 28 days), a 365-day horizon; ClickHouse Date holds 1970-01-01 to 2149-06-06
    assert EARLIEST_DATE - timedelta(days=400 + 730 + 90 + 28) > date(1970, 1, 1)
    assert LATEST_DATE + timedelta(days=400 + 365) < date(2149, 6, 6)


def test_a_time_without_an_offset_is_utc_and_replies_carry_the_offset() -> None:
    # chDB hands DateTime64 back without its zone; `date-time` in a reply needs an offset (a contract violation
    # schemathesis found on GET /anomalies)
    adapter = TypeAdapter(UtcDateTime)
    naive = adapter.validate_python(datetime(2026, 11, 29, 19, 48, 55))
    paris = adapter.validate_python("2026-11-29T20:48:55+01:00")

    assert naive == paris and naive.tzinfo is UTC
    assert adapter.dump_json(naive) == b'"2026-11-29T19:48:55Z"'


def test_figures_too_long_for_the_default_decimal_context_still_round() -> None:
    huge = Decimal("1000000000000000000000000000000.1234567")

    assert quantize(huge, MICRO) == Decimal("1000000000000000000000000000000.123457")
    assert TypeAdapter(Money).dump_python(huge, mode="json") == pytest.approx(1e30)
    assert percent_used(Decimal(10) ** 26, Decimal("0.000001")) == Decimal(10) ** 34


def test_an_anomaly_with_an_infinite_score_replies_within_its_schema() -> None:
    # schemathesis found GET /anomalies?method=statistical replying "score": null (an infinite z over a flat
    # baseline, which JSON cannot carry) where the schema said number
    anomaly = AnomalyOut(
        id="6732ae51-c3a3-5cca-88cf-b37f3da46cd9",
        tenant_id="demo",
        date_=date(2026, 11, 9),
        category="AI",
        method="statistical",
        direction="up",
        severity="high",
        expected=Decimal(0),
        actual=Decimal("198.31"),
        impact=Decimal("198.31"),
        deviation_percent=math.inf,
        score=math.inf,
        root_cause=[],
        detected_at=datetime(2026, 11, 9, 3, 0),
    )
    document = json.loads((ROOT / "openapi.json").read_text())
    schema = {**document["components"]["schemas"]["AnomalyOut"], "components": document["components"]}

    reply = json.loads(anomaly.model_dump_json(by_alias=True))

    jsonschema.validate(reply, schema)
    assert (reply["score"], reply["deviationPercent"]) == (None, None)
