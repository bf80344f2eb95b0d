"""The outbox under failure: back-off, messages parked as dead (kept, counted), a poison message that never
blocks the others, subscription changes retried after an SNS error, and SNS itself (a moto server) stopped and
started again."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from finops.budgets import wiring
from finops.notifications import publisher
from finops.notifications.job import drain_outbox
from finops.notifications.publisher import publish_pending
from finops.notifications.store import outbox_health
from finops.settings import reload_settings
from tests.integration.conftest import REGION, drain, make_queue
from tests.integration.test_budget_alerts import ADMIN, B, create, spend
from tests.integration.test_notifications import FailingSns, outbox, record_event


def at(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


class RefusesSome:
    """SNS that refuses the messages of some events (as it refuses a malformed one) and accepts the rest."""

    def __init__(self, real: Any, refused: set[str]) -> None:
        self.real, self.refused, self.tried = real, refused, []

    def publish(self, **kwargs: Any) -> Any:
        event_id = kwargs["MessageAttributes"]["eventId"]["StringValue"]
        self.tried.append(event_id)
        if event_id in self.refused:
            raise ClientError({"Error": {"Code": "InvalidParameter", "Message": "poison"}}, "Publish")
        return self.real.publish(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_failing_message_backs_off_then_is_parked_as_dead_and_kept(postgres, sns, topics, monkeypatch):
    monkeypatch.setenv("OUTBOX_MAX_ATTEMPTS", "3")
    reload_settings()
    record_event(postgres)
    down = FailingSns(sns, ClientError({"Error": {"Code": "InvalidParameter", "Message": "no"}}, "Publish"))
    assert publish_pending(postgres, down, topics).failed == 1
    assert publish_pending(postgres, down, topics, now=at(0.001)).failed == 0  # backing off: 30 s
    due = postgres.run("SELECT next_attempt_at FROM finops_notification_outbox")[0][0]
    assert timedelta(seconds=25) < due - datetime.now(UTC) <= timedelta(seconds=31)
    assert publish_pending(postgres, down, topics, now=at(1)).failed == 1
    assert publish_pending(postgres, down, topics, now=at(2)).failed == 1  # the third failure: dead
    assert publish_pending(postgres, down, topics, now=at(48)).failed == 0  # no longer tried
    assert down.calls == 3
    [row] = outbox(postgres)
    assert row["attempts"] == 3 and not row["published"] and "InvalidParameter" in row["last_error"]
    health = outbox_health(postgres, datetime.now(UTC))
    assert (health.pending, health.dead) == (0, 1)


def test_a_poison_message_never_blocks_the_others(postgres, sns, sqs, topics, queue):
    poison = [record_event(postgres) for _ in range(3)]  # the oldest rows
    good = [record_event(postgres) for _ in range(2)]
    client = RefusesSome(sns, set(poison))
    report = publish_pending(postgres, client, topics)
    assert (report.published, report.failed) == (2, 3)
    assert sorted(json.loads(m["Body"])["eventId"] for m in drain(sqs, queue)) == sorted(good)
    # Later runs try the poison again, backing off, and send nothing twice
    newer = record_event(postgres)
    assert publish_pending(postgres, client, topics, now=at(1)).published == 1
    assert [json.loads(m["Body"])["eventId"] for m in drain(sqs, queue)] == [newer]


def test_an_sns_error_after_a_committed_delete_is_retried_not_a_500_nor_a_leaked_subscription(
    clickhouse, postgres, sns, topics, monkeypatch, api
):
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
    reload_settings()
    wiring.forget()
    budget = create(api, notifyEmails=["owner@acme.test"])

    def addresses() -> list[str]:
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topics["alerts"])["Subscriptions"]
        return [s["Endpoint"] for s in subscriptions if s["Protocol"] == "email"]

    assert addresses() == ["owner@acme.test"]
    # SNS becomes unreachable: the delete still succeeds, and the unsubscription waits in the outbox
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    publisher.sns_client.cache_clear()
    status, _, _ = api("delete_budget", "DELETE", f"{B}/budgets/{budget['id']}", auth=ADMIN)
    assert status == 204
    pending = postgres.run(
        "SELECT attempts, last_error FROM finops_notification_outbox WHERE kind = 'subscriptions' "
        "AND published_at IS NULL"
    )
    assert len(pending) == 1 and pending[0][0] == 1 and "Could not connect" in pending[0][1]
    assert addresses() == ["owner@acme.test"]
    # SNS is back: the drainer (every 5 minutes) finishes it
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    publisher.sns_client.cache_clear()
    report = drain_outbox(postgres, publisher.sns_client(), publisher.topic_arns_from_settings(), now=at(1))
    assert report.subscriptions_done == 1 and report.health.pending == 0
    assert addresses() == []


def test_a_later_change_wins_over_an_earlier_one_still_waiting(clickhouse, postgres, sns, topics, monkeypatch, api):
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    reload_settings()
    wiring.forget()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    publisher.sns_client.cache_clear()
    budget = create(api, notifyEmails=["first@acme.test"])
    policy = {"notifyThreshold": 80, "notifyEmails": ["second@acme.test"]}
    api("update_budget", "PATCH", f"{B}/budgets/{budget['id']}", auth=ADMIN, body={"policy": policy, "version": 1})
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    publisher.sns_client.cache_clear()
    drain_outbox(postgres, publisher.sns_client(), publisher.topic_arns_from_settings(), now=at(1))
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topics["alerts"])["Subscriptions"]
    assert [s["Endpoint"] for s in subscriptions if s["Protocol"] == "email"] == ["second@acme.test"]
    assert outbox_health(postgres, datetime.now(UTC)).pending == 0


@pytest.fixture
def moto_on_a_port(monkeypatch):
    """A real moto server that the test can stop and start again on the same port."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    servers: list[ThreadedMotoServer] = []

    def start(port: int = 0) -> str:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        servers.append(server)
        host, bound = server.get_host_and_port()
        return f"http://{host}:{bound}"

    def stop() -> None:
        server = servers.pop()
        host, port = server.get_host_and_port()
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        server.stop()

    yield start, stop
    while servers:
        stop()
    publisher.sns_client.cache_clear()  # it pointed at this test's server


def test_sns_stopped_then_started_again_delivers_each_alert_once(
    clickhouse, postgres, api, monkeypatch, moto_on_a_port
):
    start, stop = moto_on_a_port
    endpoint = start()

    def resources() -> tuple[dict[str, str], str, Any]:
        sns = boto3.client("sns", endpoint_url=endpoint, region_name=REGION)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        topics = {
            "alerts": sns.create_topic(Name="finops-budget-alerts-faults")["TopicArn"],
            "admin": sns.create_topic(Name="finops-admin-alerts-faults")["TopicArn"],
        }
        return topics, make_queue(sns, sqs, topics.values()), sqs

    topics, _, _ = resources()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
    reload_settings()
    wiring.forget()
    publisher.sns_client.cache_clear()
    create(api)
    port = int(endpoint.rsplit(":", 1)[1])
    stop()

    spend(api, 85)  # crosses 80%: the alert is written, publishing it fails fast
    [row] = [r for r in outbox(postgres) if not r["published"]]
    assert row["attempts"] == 1 and row["last_error"]
    report = drain_outbox(postgres, publisher.sns_client(), topics, now=at(1))  # still down
    assert (report.published, report.health.pending) == (0, 1)

    endpoint = start(port)  # back, empty, as after an outage: the topics come back with the same ARNs
    topics_again, queue, sqs = resources()
    assert topics_again == topics
    report = drain_outbox(postgres, publisher.sns_client(), topics, now=at(3))
    assert (report.published, report.health.pending, report.health.dead) == (1, 0, 0)
    assert drain_outbox(postgres, publisher.sns_client(), topics, now=at(6)).published == 0
    [message] = drain(sqs, queue)
    assert json.loads(message["Body"])["eventType"] == "threshold_notify"
