"""The rate card endpoints and the cluster form of the schema, against the real engine."""

from pathlib import Path

import pytest

from finops.db.migrate import load_migrations, render_for_cluster, sharded_tables
from tests.conftest import claims
from tests.factories import days_ago

RATE_CARD = "/v1/analytics/finops/rate-card"
SQL = Path(__file__).resolve().parents[2] / "sql" / "clickhouse"


def test_default_card_prices_the_common_models_of_the_major_providers(clickhouse, api):
    status, body, _ = api("get_rate_card", "GET", RATE_CARD, auth=claims("acme", "user"))
    assert status == 200
    models = {p["priceKey"] for p in body["prices"] if p["meter"] == "output_tokens"}
    assert {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5", "llama-3.3-70b", "*"} <= models
    assert all(p["source"] for p in body["prices"])
    gpt4o = {p["meter"]: p["unitPrice"] for p in body["prices"] if p["priceKey"] == "gpt-4o"}
    assert gpt4o == {"input_tokens": 2.5, "cached_input_tokens": 1.25, "output_tokens": 10.0}


def test_only_system_publishes_prices_and_bad_meters_are_named(clickhouse, api):
    body = {
        "effectiveFrom": str(days_ago(1)),
        "source": "contract 2026",
        "prices": [{"meter": "egress_gb", "priceKey": "*", "unitPrice": 0.05}],
    }
    assert api("publish_rate_card", "POST", RATE_CARD, auth=claims("acme", "admin"), body=body)[0] == 403
    status, reply, _ = api("publish_rate_card", "POST", RATE_CARD, auth=claims(None, "system"), body=body)
    assert status == 200
    assert {p["meter"]: p["unitPrice"] for p in reply["prices"] if p["priceKey"] == "*"}["egress_gb"] == 0.05
    bad = {**body, "prices": [{"meter": "gpu_hours", "unitPrice": 1}]}
    status, reply, _ = api("publish_rate_card", "POST", RATE_CARD, auth=claims(None, "system"), body=bad)
    assert status == 422 and reply["errors"][0]["loc"] == ["body", "prices.0.meter"]
    negative = {**body, "prices": [{"meter": "egress_gb", "unitPrice": -1}]}
    assert api("publish_rate_card", "POST", RATE_CARD, auth=claims(None, "system"), body=negative)[0] == 422


def test_rate_card_as_of_a_past_day_shows_the_prices_then(clickhouse, api):
    api(
        "publish_rate_card",
        "POST",
        RATE_CARD,
        auth=claims(None, "system"),
        body={
            "effectiveFrom": str(days_ago(3)),
            "source": "cut",
            "prices": [{"meter": "input_tokens", "priceKey": "gpt-4o", "unitPrice": 2}],
        },
    )

    def price(as_of):
        _, body, _ = api("get_rate_card", "GET", RATE_CARD, auth=claims("acme", "user"), query={"asOf": str(as_of)})
        return next(
            p["unitPrice"] for p in body["prices"] if p["meter"] == "input_tokens" and p["priceKey"] == "gpt-4o"
        )

    assert price(days_ago(4)) == 2.5
    assert price(days_ago(3)) == 2.0


@pytest.mark.parametrize("migration", load_migrations(SQL), ids=lambda m: m.name)
def test_cluster_ddl_is_valid_clickhouse_sql(clickhouse, migration):
    sharded = sharded_tables(load_migrations(SQL))
    for statement in render_for_cluster(migration.statements, "finops_cluster", sharded):
        formatted = clickhouse.command("SELECT formatQuery({q:String})", parameters={"q": statement})
        assert str(formatted).strip()
