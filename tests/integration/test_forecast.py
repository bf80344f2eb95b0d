"""GET /v1/analytics/finops/forecast against real data in ClickHouse."""

import math
import random

import pytest

from tests.conftest import claims
from tests.factories import TELEMETRY, days_ago, event

FORECAST = "/v1/analytics/finops/forecast"
USER = claims("acme", "user")


def daily_spend(n_days: int, seed: int = 7) -> list[float]:
    """A weekly pattern (weekends low), a gentle trend and noise: realistic platform spend."""
    rng = random.Random(seed)
    weekly = [1.0, 1.05, 1.1, 1.08, 0.95, 0.55, 0.5]
    return [
        round(200 * (1 + 0.004 * d) * weekly[days_ago(n_days - d).weekday()] * (1 + rng.gauss(0, 0.05)), 2)
        for d in range(n_days)
    ]


@pytest.fixture
def ninety_days(clickhouse, api):
    spend = daily_spend(90)
    events = []
    for d, amount in enumerate(spend):
        day = days_ago(90 - d)
        events.append(event("acme", day, "AI", costUsd=str(round(amount * 0.7, 2))))
        events.append(event("acme", day, "COMPUTE", costUsd=str(round(amount - round(amount * 0.7, 2), 2))))
    status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=claims(None, "system"), body={"events": events})
    assert body["accepted"] == len(events)
    return spend


def get(api, auth=USER, **query):
    return api(
        "get_forecast", "GET", FORECAST, auth=auth, query={"tenantId": "acme", **{k: str(v) for k, v in query.items()}}
    )


def test_seed_scenario_3_sixty_days_forecast_thirty_within_20_percent_mape(ninety_days, api):
    # Given 60 days of history (as of 30 days ago) and the 30 days that followed
    status, body, _ = get(api, asOf=days_ago(30), historyDays=60, horizonDays=30)
    assert status == 200, body
    actual = ninety_days[60:]
    predicted = [p["value"] for p in body["points"]]
    assert [p["date"] for p in body["points"]] == [str(days_ago(30 - i)) for i in range(30)]
    mape = sum(abs(p - a) / a for p, a in zip(predicted, actual, strict=True)) / 30 * 100
    assert mape < 20, mape
    coverage = sum(p["lower95"] <= a <= p["upper95"] for p, a in zip(body["points"], actual, strict=True)) / 30
    assert coverage >= 0.7  # one series, 30 days: a loose check; the bench measures coverage over many
    assert body["total"]["lower95"] <= sum(actual) <= body["total"]["upper95"]


def test_every_method_returns_ordered_non_negative_intervals_and_its_accuracy(ninety_days, api):
    for method in ("auto", "linear", "moving_average", "seasonal"):
        status, body, _ = get(api, method=method, horizonDays=14)
        assert status == 200, (method, body)
        assert body["method"] == method or method == "auto"
        for p in body["points"]:
            assert 0 <= p["lower95"] <= p["lower80"] <= p["value"] <= p["upper80"] <= p["upper95"]
        assert body["accuracy"]["smape"] >= 0 and body["accuracy"]["origins"] > 0
        assert body["currency"] == "USD" and len(body["points"]) == 14


def test_category_forecast_uses_only_that_category(ninety_days, api):
    _, all_spend, _ = get(api, horizonDays=7)
    _, ai, _ = get(api, horizonDays=7, category="AI")
    assert ai["category"] == "AI"
    assert math.isclose(ai["total"]["value"] / all_spend["total"]["value"], 0.7, rel_tol=0.1)


def test_too_little_history_is_a_422_that_says_how_much_is_needed(clickhouse, api):
    api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=claims(None, "system"),
        body={"events": [event("acme", days_ago(d), "AI", costUsd="5") for d in range(1, 6)]},
    )
    status, body, _ = get(api)
    assert status == 422
    assert "14 days" in body["detail"]
    status, body, _ = get(api, tenantId="nobody-yet", auth=claims(None, "system"))
    assert status == 422


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"horizonDays": 0}, "horizonDays"),
        ({"horizonDays": 366}, "horizonDays"),
        ({"historyDays": 13}, "historyDays"),
        ({"method": "prophet"}, "method"),
        ({"category": "GPU"}, "category"),
        ({"asOf": "soon"}, "asOf"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(clickhouse, api, query, field):
    status, body, _ = get(api, **query)
    assert status == 422 and body["errors"][0]["loc"][-1] == field


def test_forecast_is_tenant_scoped(ninety_days, api):
    assert get(api, auth=claims("globex", "user"))[0] == 403
    assert get(api, auth=None)[0] == 401
