"""Budget alerts through SNS (moto): one message per threshold and period, nothing lost when SNS is down."""

import json

import pytest

from finops.budgets import wiring
from finops.budgets.job import daily_check
from finops.settings import reload_settings
from tests.conftest import claims
from tests.factories import TELEMETRY, event, today
from tests.integration.conftest import drain, make_queue

B = "/api/ai-budget/finops"
ADMIN = claims("acme", "admin")
SYSTEM = claims(None, "system")


@pytest.fixture
def alerting(clickhouse, postgres, sns, sqs, topics, monkeypatch):
    """The budget service wired to moto's SNS topics, with a raw-delivery queue on both."""
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
    reload_settings()
    wiring.forget()
    return make_queue(sns, sqs, topics.values())


def create(api, **policy):
    body = {
        "tenantId": "acme",
        "name": "Monthly AI",
        "amount": 100,
        "period": "monthly",
        "categories": [],
        "policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai"], **policy},
        "startDate": str(today().replace(day=1)),
    }
    status, budget, _ = api("create_budget", "POST", f"{B}/budgets", auth=ADMIN, body=body)
    assert status == 201, budget
    return budget


def spend(api, amount):
    status, body, _ = api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=SYSTEM,
        body={"events": [event("acme", today(), "AI", costUsd=str(amount))]},
    )
    assert body["accepted"] == 1


def check(api, budget_id):
    return api(
        "check_budget_enforcement",
        "POST",
        f"{B}/budgets/{budget_id}/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "ai_generation"},
    )[1]


def test_crossing_80_percent_publishes_exactly_one_notification(alerting, api, sqs):
    budget = create(api, notifyEmails=["owner@acme.test"])
    spend(api, 50)
    assert drain(sqs, alerting) == []
    spend(api, 35)  # 85%
    check(api, budget["id"])
    spend(api, 5)  # 90%: same threshold, same period
    check(api, budget["id"])
    messages = drain(sqs, alerting)
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["budgetId"] == budget["id"] and attributes["tenantId"] == "acme"
    assert (attributes["eventType"], attributes["severity"]) == ("threshold_notify", "warning")
    assert body["eventId"] == attributes["eventId"]


def test_enforcement_alerts_the_admin_channel_when_asked(alerting, api, sqs):
    budget = create(api, actions=["alert_admins", "block_ai"], adminEmails=["ops@acme.test"])
    spend(api, 120)
    assert check(api, budget["id"])["action"] == "block"
    kinds = sorted(json.loads(m["Body"])["eventType"] for m in drain(sqs, alerting))
    assert kinds == ["threshold_enforce", "threshold_notify"]


def test_alerts_raised_while_sns_is_down_are_published_once_by_the_daily_check(
    alerting, api, sqs, postgres, monkeypatch, topics
):
    budget = create(api)
    # Given SNS is unreachable when the threshold is crossed
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    from finops.notifications import publisher

    publisher.sns_client.cache_clear()
    spend(api, 85)
    assert postgres.run("SELECT count(*) FROM finops_notification_outbox WHERE published_at IS NULL") == [[1]]
    # When SNS is back and the daily check runs (twice), after the row's back-off has passed
    postgres.run("UPDATE finops_notification_outbox SET next_attempt_at = now() - interval '1 second'")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    publisher.sns_client.cache_clear()
    daily_check(wiring.budgets(cached_spend=False))
    daily_check(wiring.budgets(cached_spend=False))
    messages = drain(sqs, alerting)
    assert [json.loads(m["Body"])["budgetId"] for m in messages] == [budget["id"]]
    assert postgres.run("SELECT count(*) FROM finops_notification_outbox WHERE published_at IS NULL") == [[0]]


def test_notify_emails_become_subscriptions_filtered_to_the_budget_and_follow_changes(alerting, api, sns, topics):
    budget = create(api, notifyEmails=["a@acme.test", "b@acme.test"])

    def emails():
        subs = sns.list_subscriptions_by_topic(TopicArn=topics["alerts"])["Subscriptions"]
        return sorted(s["Endpoint"] for s in subs if s["Protocol"] == "email")

    assert emails() == ["a@acme.test", "b@acme.test"]
    subscription = next(
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=topics["alerts"])["Subscriptions"]
        if s["Protocol"] == "email"
    )
    policy = json.loads(
        sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]["FilterPolicy"]
    )
    assert policy == {"budgetId": [budget["id"]]}
    policy_body = {
        "notifyThreshold": 80,
        "enforceThreshold": 100,
        "actions": ["notify", "block_ai"],
        "notifyEmails": ["b@acme.test", "c@acme.test"],
    }
    status, _, _ = api(
        "update_budget", "PATCH", f"{B}/budgets/{budget['id']}", auth=ADMIN, body={"policy": policy_body, "version": 1}
    )
    assert status == 200
    assert emails() == ["b@acme.test", "c@acme.test"]
    api("delete_budget", "DELETE", f"{B}/budgets/{budget['id']}", auth=ADMIN)
    assert emails() == []
