"""Budget alert messages: readable subject and text for people, exact JSON and attributes for machines."""

import json
from datetime import date
from decimal import Decimal

import pytest

from finops.notifications.messages import (
    MAX_SUBJECT_LENGTH,
    SEVERITY_BY_EVENT_TYPE,
    build_message,
    compose_budget_alert,
    fit_subject,
    sns_message,
)

EVENT_ID = "6f1c2b0e-8d1e-4b51-9a55-0c2f7d6c1a11"
BUDGET_ID = "0b9a4c6e-1f0d-4f7a-8a57-3d5c2e9b7f42"


def alert(**overrides):
    fields = {
        "event_id": EVENT_ID,
        "event_type": "threshold_notify",
        "severity": "warning",
        "tenant_id": "acme",
        "budget_id": BUDGET_ID,
        "budget_name": "Monthly AI",
        "period_start": date(2026, 11, 1),
        "period_end": date(2026, 11, 30),
        "spent": Decimal("4100.000000"),
        "amount": Decimal("5000.000000"),
        "percent_used": Decimal("82.0000"),
        "threshold_percent": Decimal("80.00"),
        "actions": ["notify", "alert_admins", "block_ai"],
        "topic": "alerts",
    }
    return compose_budget_alert(**(fields | overrides))


def test_notify_subject_names_budget_percent_amount_and_tenant():
    assert alert().subject == "[FinOps] Budget 'Monthly AI' at 82% of $5,000 (acme)"


def test_subject_percent_is_rounded_down_so_it_never_overstates():
    assert "at 99% of" in alert(percent_used=Decimal("99.96")).subject


@pytest.mark.parametrize("event_type", sorted(SEVERITY_BY_EVENT_TYPE))
def test_subject_fits_sns_limit_with_a_200_character_name_and_long_tenant(event_type):
    message = alert(
        event_type=event_type,
        severity=SEVERITY_BY_EVENT_TYPE[event_type],
        budget_name="Marketing team generative AI experiments " * 5,
        tenant_id="t" * 128,
        details={"expectedSpend": Decimal("6000"), "probability": 0.9},
    )
    assert len(message.subject) <= MAX_SUBJECT_LENGTH
    assert message.subject.startswith("[FinOps] Budget 'Marketing team")
    assert "…" in message.subject
    assert message.body_json["budgetName"] == "Marketing team generative AI experiments " * 5  # JSON keeps it whole


def test_subject_keeps_the_figures_when_only_the_name_is_long():
    subject = alert(budget_name="x" * 200, amount=Decimal("1234567.50")).subject
    assert len(subject) <= MAX_SUBJECT_LENGTH
    assert subject.endswith("of $1,234,567.50 (acme)")


def test_line_breaks_in_a_name_never_reach_the_subject():
    subject = alert(budget_name="Evil\r\nBcc: someone").subject
    assert "\n" not in subject and "\r" not in subject


@pytest.mark.parametrize(
    ("event_type", "severity", "subject_part"),
    [
        ("threshold_notify", "warning", "at 82% of $5,000"),
        ("threshold_enforce", "critical", "enforced at 82% of $5,000"),
        ("enforcement_lifted", "info", "enforcement lifted"),
        ("forecast_exceeds", "warning", "forecast to exceed $5,000"),
    ],
)
def test_each_event_type_has_its_subject_and_severity(event_type, severity, subject_part):
    message = alert(event_type=event_type, severity=severity)
    assert subject_part in message.subject
    assert message.body_json["severity"] == severity
    assert message.attributes["severity"] == severity
    assert f"Severity:    {severity}" in message.body_text


def test_json_body_carries_every_field_with_money_as_exact_strings():
    body = alert(details={"source": "realtime"}).body_json
    assert body == {
        "schemaVersion": 1,
        "eventId": EVENT_ID,
        "eventType": "threshold_notify",
        "severity": "warning",
        "tenantId": "acme",
        "budgetId": BUDGET_ID,
        "budgetName": "Monthly AI",
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-30",
        "currency": "USD",
        "spent": "4100.00",
        "amount": "5000.00",
        "percentUsed": "82.00",
        "thresholdPercent": "80.00",
        "actions": ["notify", "alert_admins", "block_ai"],
        "details": {"source": "realtime"},
        "subject": "[FinOps] Budget 'Monthly AI' at 82% of $5,000 (acme)",
    }
    json.dumps(body)  # serialisable as is


def test_json_keeps_sub_cent_precision_and_null_threshold():
    body = alert(spent=Decimal("12.345678"), threshold_percent=None).body_json
    assert body["spent"] == "12.345678"
    assert body["thresholdPercent"] is None


def test_text_says_what_happened_the_figures_the_policy_and_the_event_id():
    text = alert().body_text
    assert (
        "Budget 'Monthly AI' of tenant acme has used 82% of its $5,000.00, crossing its 80% notify threshold." in text
    )
    assert "Spent:       $4,100.00 of $5,000.00 (82%)" in text
    assert "Remaining:   $900.00" in text
    assert "Period:      2026-11-01 to 2026-11-30 (UTC)" in text
    assert "the budget's subscribers are notified (notify)" in text
    assert "At the enforce threshold: AI generation is blocked (block_ai)." in text
    assert f"Event id:    {EVENT_ID}" in text
    assert f"Budget id:   {BUDGET_ID}" in text


def test_enforce_text_lists_what_is_blocked_now_and_that_other_operations_run():
    text = alert(
        event_type="threshold_enforce",
        severity="critical",
        spent=Decimal("5100"),
        percent_used=Decimal("102"),
        threshold_percent=Decimal("100"),
        actions=["notify", "rate_limit", "block_ai", "block_export"],
        details={"rateLimitFactor": Decimal("0.5")},
    ).body_text
    assert "reaching its 100% enforce threshold" in text
    assert "Over by:     $100.00" in text
    assert "- Now: AI generation is blocked (block_ai)." in text
    assert "- Now: exports are blocked (block_export)." in text
    assert "- Now: operations are rate-limited to 0.5 of their usual rate (rate_limit)." in text
    assert "- Other operations stay allowed." in text


def test_lifted_text_gives_the_reason():
    message = alert(event_type="enforcement_lifted", severity="info", details={"reason": "the period rolled over"})
    assert "has been lifted: the period rolled over." in message.body_text
    assert "All operations are allowed again." in message.body_text


def test_forecast_text_and_json_carry_expected_spend_probability_and_breach_date():
    message = alert(
        event_type="forecast_exceeds",
        details={"expectedSpend": Decimal("5600.5"), "probability": Decimal("0.85"), "breachDate": date(2026, 11, 24)},
    )
    assert "Forecast:    $5,600.50 by the end of the period" in message.body_text
    assert "Probability: 85% that spend exceeds the amount" in message.body_text
    assert "Breach date: 2026-11-24" in message.body_text
    assert message.body_json["details"] == {
        "expectedSpend": "5600.50",
        "probability": "0.85",
        "breachDate": "2026-11-24",
    }


def test_attributes_are_what_subscribers_filter_on():
    assert alert().attributes == {
        "tenantId": "acme",
        "budgetId": BUDGET_ID,
        "eventType": "threshold_notify",
        "severity": "warning",
        "eventId": EVENT_ID,
    }


def test_sns_payload_gives_email_the_text_and_machines_the_json():
    message = alert()
    payload = json.loads(sns_message(message.body_text, message.body_json))
    assert payload["email"] == message.body_text
    for protocol in ("default", "sqs", "lambda"):
        assert json.loads(payload[protocol]) == message.body_json


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"event_type": "anomaly_maybe"}, "unknown budget event type"),
        ({"severity": "loud"}, "unknown severity"),
        ({"topic": "everyone"}, "unknown topic"),
    ],
)
def test_bad_input_is_refused(overrides, error):
    with pytest.raises(ValueError, match=error):
        alert(**overrides)


def test_another_kind_of_message_reuses_the_conventions():
    # Given an anomaly alert built the way a future compose_anomaly_alert would
    subject = fit_subject("Cost anomaly in AI spend of '{name}' ({tenant})", "gpt-4o" * 30, "acme")
    message = build_message(
        topic="admin",
        subject=subject,
        text_lines=["AI spend is 3.2x its usual level."],
        body_json={"eventId": EVENT_ID, "eventType": "anomaly", "severity": "warning", "tenantId": "acme"},
    )
    # Then it gets the same subject limit, event id footer, JSON safety and attributes (no budgetId)
    assert len(message.subject) <= MAX_SUBJECT_LENGTH and message.subject.startswith("[FinOps] Cost anomaly")
    assert message.body_text.rstrip().endswith("systems deduplicate on it)")
    assert message.attributes == {
        "tenantId": "acme",
        "eventType": "anomaly",
        "severity": "warning",
        "eventId": EVENT_ID,
    }
    assert message.body_json["schemaVersion"] == 1
