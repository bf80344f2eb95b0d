from datetime import UTC, datetime

import pytest

from finops.costs.telemetry import parse_batch, parse_event

VALID_AI = {
    "eventId": "e1",
    "tenantId": "acme",
    "timestamp": "2026-01-05T10:00:00Z",
    "category": "AI",
    "service": "chat",
    "region": "us-east-1",
    "model": "GPT-4o",
    "inputTokens": 10,
    "outputTokens": 5,
}


def test_valid_ai_event_is_parsed_and_model_normalised():
    event = parse_event(VALID_AI)
    assert event["model"] == "gpt-4o"
    assert event["timestamp"] == datetime(2026, 1, 5, 10, tzinfo=UTC)


def test_timestamp_with_offset_is_converted_to_utc_and_naive_is_read_as_utc():
    assert parse_event({**VALID_AI, "timestamp": "2026-01-05T12:00:00+02:00"})["timestamp"].hour == 10
    assert parse_event({**VALID_AI, "timestamp": "2026-01-05T10:00:00"})["timestamp"].tzinfo is not None


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"category": "GPU"}, "category", "does not match any of the expected tags"),
        ({"inputTokens": -1}, "inputTokens", "greater than or equal to 0"),
        ({"inputTokens": "10"}, "inputTokens", "valid integer"),
        ({"timestamp": "yesterday"}, "timestamp", "datetime"),
        ({"tenantId": ""}, "tenantId", "at least 1 character"),
        ({"inputTokenz": 3}, "inputTokenz", "Extra inputs are not permitted"),
        ({"vcpuSeconds": 3}, "vcpuSeconds", "Extra inputs are not permitted"),
        ({"costUsd": -0.5}, "costUsd", "greater than or equal to 0"),
    ],
)
def test_invalid_event_is_rejected_with_the_field_and_the_rule(change, field, rule):
    with pytest.raises(ValueError) as rejected:
        parse_event({**VALID_AI, **change})
    assert field in str(rejected.value)
    assert rule in str(rejected.value)


def test_missing_usage_field_is_named():
    with pytest.raises(ValueError, match="outputTokens: Field required"):
        parse_event({k: v for k, v in VALID_AI.items() if k != "outputTokens"})


def test_non_object_event_is_rejected():
    with pytest.raises(ValueError):
        parse_event("not an event")


def test_a_batch_is_validated_at_once_and_each_bad_event_rejected_with_its_index():
    batch = [VALID_AI, {**VALID_AI, "tenant_id": "other"}, "junk", {**VALID_AI, "eventId": "e2"}]
    valid, problems = parse_batch(batch)
    assert [index for index, _ in valid] == [0, 3]
    assert set(problems) == {1, 2}
    assert "tenant_id: Extra inputs are not permitted" in problems[1]
