"""POST /v1/analytics/finops/telemetry, called in-process against the real ClickHouse engine."""

from decimal import Decimal

from finops.costs.ingest import insert_rated_batch
from tests.conftest import claims
from tests.factories import COSTS, TELEMETRY, at, days_ago, event, today

SYSTEM = claims(None, "system")


def ingest(api, events, auth=SYSTEM):
    return api("ingest_telemetry", "POST", TELEMETRY, auth=auth, body={"events": events})


def total_cost(api, tenant, start, end):
    status, body, _ = api(
        "get_costs",
        "GET",
        COSTS,
        auth=claims(tenant, "user"),
        query={"tenantId": tenant, "from": str(start), "to": str(end)},
    )
    assert status == 200, body
    return Decimal(str(body["total"]))


def test_valid_events_are_accepted_and_invalid_ones_rejected_one_by_one(clickhouse, api):
    events = [event(costUsd="1.25"), {"eventId": "x"}, event(inputTokens=-5), event(category="STORAGE", costUsd="0.75")]
    status, body, _ = ingest(api, events)
    assert status == 200
    assert body["accepted"] == 2
    assert body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert "inputTokens" in body["rejected"][1]["error"]
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal("2.00")


def test_resent_event_id_is_never_counted_twice_within_or_across_batches(clickhouse, api):
    first = event(eventId="order-42", costUsd="3")
    status, body, _ = ingest(api, [first, dict(first)])
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    # The same event again in a later batch (a retry: the same timestamp), also after its day was aggregated
    status, body, _ = ingest(api, [dict(first)])
    assert (body["accepted"], body["duplicates"]) == (0, 1)
    api("run_aggregation", "POST", "/v1/analytics/finops/aggregate", auth=SYSTEM, body={"date": str(days_ago(1))})
    status, body, _ = ingest(api, [dict(first), dict(first)])
    assert (body["accepted"], body["duplicates"]) == (0, 2)
    assert total_cost(api, "acme", days_ago(10), today()) == Decimal(3)


def test_an_event_is_its_tenant_id_and_day(clickhouse, api):
    """The README's contract: a retry carries its event's timestamp; the same id on another day is another event."""
    first = event(eventId="daily-counter-1", costUsd="3")
    ingest(api, [first])
    status, body, _ = ingest(api, [{**first, "timestamp": at(days_ago(5))}])
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    assert total_cost(api, "acme", days_ago(10), today()) == Decimal(6)


def test_same_event_id_of_two_tenants_are_two_events(clickhouse, api):
    status, body, _ = ingest(
        api, [event("acme", eventId="shared", costUsd="1"), event("globex", eventId="shared", costUsd="2")]
    )
    assert body["accepted"] == 2
    assert total_cost(api, "globex", days_ago(1), days_ago(1)) == Decimal(2)


def rated_batch(clickhouse, *events):
    """Events validated and rated as the ingest path does it, ready to insert."""
    from finops.costs.rate_card import current_rate_card
    from finops.costs.rating import BatchPrices, rate_batch
    from finops.costs.telemetry import parse_batch

    valid, problems = parse_batch(list(events))
    assert not problems, problems
    batch, unpriced = rate_batch(valid, BatchPrices(current_rate_card(clickhouse)))
    assert not unpriced, unpriced
    return batch


def test_event_copies_racing_past_the_duplicate_check_are_counted_once(clickhouse, api):
    # Given two copies of one event that both reached the table (two retries racing)
    from datetime import UTC, datetime, timedelta

    rated = rated_batch(clickhouse, event(eventId="race", costUsd="5"))
    now = datetime.now(UTC)
    insert_rated_batch(clickhouse, rated, ingested_at=now - timedelta(hours=1))  # before the aggregation cut-off
    insert_rated_batch(clickhouse, rated, ingested_at=now)  # after it: must not reach the live path
    # Then queries, before and after aggregation, count the event once
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal(5)
    api("run_aggregation", "POST", "/v1/analytics/finops/aggregate", auth=SYSTEM, body={"date": str(days_ago(1))})
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal(5)


def test_a_copy_stored_first_with_a_later_clock_is_the_surplus_one(clickhouse, api):
    """Two containers racing, the slower clock inserting first: the earliest copy (by ingestion time) wins in the
    raw table, so the copy recorded as surplus is the other one, found by the second insert's check."""
    from datetime import UTC, datetime, timedelta

    rated = rated_batch(clickhouse, event(eventId="skew", costUsd="5"))
    now = datetime.now(UTC)
    assert insert_rated_batch(clickhouse, rated, ingested_at=now) == set()
    assert insert_rated_batch(clickhouse, rated, ingested_at=now - timedelta(seconds=2)) == set()
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal(5)
    surplus = clickhouse.query("SELECT DISTINCT ingested_at FROM cost_live_duplicates FINAL").result_rows
    assert [row[0].replace(tzinfo=UTC) for row in surplus] == [now]


def test_model_missing_from_rate_card_is_priced_by_fallback_and_flagged(clickhouse, api):
    status, body, _ = ingest(api, [event(model="acme-llm-7b", inputTokens=1_000_000, outputTokens=0)])
    assert body["accepted"] == 1
    assert body["flagged"][0]["index"] == 0
    assert "acme-llm-7b" in body["flagged"][0]["warning"]
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal("3.00")  # the documented fallback


def test_events_in_the_future_or_too_old_are_rejected(clickhouse, api):
    status, body, _ = ingest(
        api, [event(day=today(), timestamp="2999-01-01T00:00:00Z"), event(timestamp=at(days_ago(401)))]
    )
    assert body["accepted"] == 0
    assert all("timestamp" in r["error"] for r in body["rejected"])


def test_batch_over_5000_events_or_empty_is_refused_with_the_field(clickhouse, api):
    status, body, _ = ingest(api, [event() for _ in range(5001)])
    assert status == 422
    assert body["errors"][0]["loc"] == ["body", "events"]
    status, body, _ = ingest(api, [])
    assert status == 422


def test_malformed_json_body_is_a_4xx(clickhouse, api):
    status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body="{not json")
    assert 400 <= status < 500


def test_admin_ingests_for_its_own_tenant_only_and_a_foreign_event_stores_nothing(clickhouse, api):
    status, body, _ = ingest(api, [event("acme", costUsd="1")], auth=claims("acme", "admin"))
    assert status == 200 and body["accepted"] == 1
    status, body, _ = ingest(
        api, [event("acme", costUsd="1"), event("globex", costUsd="9")], auth=claims("acme", "admin")
    )
    assert status == 403
    assert "globex" not in str(body)
    assert total_cost(api, "globex", days_ago(1), days_ago(1)) == 0
    assert total_cost(api, "acme", days_ago(1), days_ago(1)) == Decimal(1)


def test_user_role_may_not_ingest_and_no_token_is_401(clickhouse, api):
    assert ingest(api, [event("acme")], auth=claims("acme", "user"))[0] == 403
    assert ingest(api, [event("acme")], auth=None)[0] == 401
