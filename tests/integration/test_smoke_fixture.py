from tests.conftest import claims


def test_ingested_event_is_visible_in_costs_before_aggregation(clickhouse, api):
    event = {
        "eventId": "evt-1",
        "tenantId": "acme",
        "timestamp": "2026-11-20T10:00:00Z",
        "category": "AI",
        "service": "chat",
        "region": "us-east-1",
        "model": "gpt-4o-mini",
        "inputTokens": 1_000_000,
        "outputTokens": 1_000_000,
    }
    status, body, _ = api(
        "ingest_telemetry",
        "POST",
        "/v1/analytics/finops/telemetry",
        auth=claims(None, "system"),
        body={"events": [event]},
    )
    assert status == 200, body
    assert body["accepted"] == 1
    status, body, _ = api(
        "get_costs",
        "GET",
        "/v1/analytics/finops/costs",
        auth=claims("acme", "user"),
        query={"tenantId": "acme", "from": "2026-11-20", "to": "2026-11-20"},
    )
    assert status == 200, body
    assert body["total"] == 0.75
