"""Notifications: the outbox in a real PostgreSQL, published to SNS (moto) and read back from SQS queues."""

import json
import threading
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from moto.server import ThreadedMotoServer

from finops.db import postgres as postgres_db
from finops.notifications.messages import compose_budget_alert
from finops.notifications.outbox import enqueue
from finops.notifications.publisher import publish_pending
from finops.notifications.subscriptions import remove_budget_subscriptions, sync_email_subscriptions
from local.aws_resources import ensure_local_notification_resources, read_local_notifications
from tests.integration.conftest import REGION, drain, make_queue


def record_event(conn, *, tenant="acme", budget_id=None, topics=("alerts",), name="Monthly AI"):
    """A threshold event and its outbox rows, in one transaction as the budget code writes them."""
    budget_id = budget_id or str(uuid.uuid4())
    conn.run("BEGIN")
    event_id = str(
        conn.run(
            "INSERT INTO finops_budget_events (budget_id, tenant_id, event_type, severity, period_start, "
            "threshold_generation, threshold_percent, spent, amount, percent_used, source) "
            "VALUES (CAST(:budget AS uuid), :tenant, 'threshold_notify', 'warning', DATE '2026-11-01', 1, 80, "
            "4100, 5000, 82, 'realtime') RETURNING id",
            budget=budget_id,
            tenant=tenant,
        )[0][0]
    )
    for topic in topics:
        enqueue(conn, alert(event_id, tenant, budget_id, name, topic), **row_keys(event_id, tenant, budget_id))
    conn.run("COMMIT")
    return event_id


def alert(event_id, tenant, budget_id, name="Monthly AI", topic="alerts"):
    return compose_budget_alert(
        event_id=event_id,
        event_type="threshold_notify",
        severity="warning",
        tenant_id=tenant,
        budget_id=budget_id,
        budget_name=name,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        spent=Decimal("4100"),
        amount=Decimal("5000"),
        percent_used=Decimal("82"),
        threshold_percent=Decimal("80"),
        actions=["notify", "alert_admins", "block_ai"],
        topic=topic,
    )


def row_keys(event_id, tenant, budget_id):
    return {
        "event_id": event_id,
        "tenant_id": tenant,
        "budget_id": budget_id,
        "event_type": "threshold_notify",
        "severity": "warning",
    }


def outbox(conn):
    rows = conn.run(
        "SELECT event_id, topic, attempts, last_error, published_at IS NOT NULL, message_id "
        "FROM finops_notification_outbox ORDER BY created_at, id"
    )
    return [
        {
            "event_id": str(r[0]),
            "topic": r[1],
            "attempts": r[2],
            "last_error": r[3],
            "published": r[4],
            "message_id": r[5],
        }
        for r in rows
    ]


def later(hours: float = 2) -> datetime:
    """A moment when every backed-off row is due again."""
    return datetime.now(UTC) + timedelta(hours=hours)


class FailingSns:
    """An SNS client whose publish fails like an unreachable endpoint; everything else is the real client."""

    def __init__(self, real, error=None):
        self.real, self.calls = real, 0
        self.error = error or EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com/")

    def publish(self, **kwargs):
        self.calls += 1
        raise self.error

    def __getattr__(self, name):
        return getattr(self.real, name)


# --- outbox and publishing ---------------------------------------------------------------------------------------


def test_pending_rows_are_published_once_with_subject_attributes_and_json(postgres, sns, sqs, topics, queue):
    # Given an alert for the owners and one for the admins, and a second queue without raw delivery
    enveloped = make_queue(sns, sqs, [topics["alerts"]], raw=False)
    budget_id = str(uuid.uuid4())
    event_id = record_event(postgres, budget_id=budget_id, topics=("alerts", "admin"))

    # When the outbox is published
    report = publish_pending(postgres, sns, topics)

    # Then each row went out once, its JSON body and attributes as they were stored
    assert (report.published, report.failed, report.still_pending) == (2, 0, 0)
    raw = drain(sqs, queue)
    assert len(raw) == 2
    stored = alert(event_id, "acme", budget_id)
    for message in raw:
        assert json.loads(message["Body"]) == stored.body_json
        assert {k: v["StringValue"] for k, v in message["MessageAttributes"].items()} == {
            "tenantId": "acme",
            "budgetId": budget_id,
            "eventType": "threshold_notify",
            "severity": "warning",
            "eventId": event_id,
        }
        assert all(v["DataType"] == "String" for v in message["MessageAttributes"].values())
    # And the SNS envelope carries the readable subject
    [envelope] = [json.loads(m["Body"]) for m in drain(sqs, enveloped)]
    assert envelope["Subject"] == "[FinOps] Budget 'Monthly AI' at 82% of $5,000 (acme)"
    assert json.loads(envelope["Message"])["eventId"] == event_id
    # And the rows record it
    rows = outbox(postgres)
    assert all(r["published"] and r["message_id"] and r["attempts"] == 1 and r["last_error"] is None for r in rows)

    # When publishing again, nothing is sent twice
    assert publish_pending(postgres, sns, topics).published == 0
    assert drain(sqs, queue) == []


def test_enqueue_commits_and_rolls_back_with_the_callers_transaction(postgres):
    budget_id = str(uuid.uuid4())
    postgres.run("BEGIN")
    event_id = str(
        postgres.run(
            "INSERT INTO finops_budget_events (budget_id, tenant_id, event_type, severity) "
            "VALUES (CAST(:b AS uuid), 'acme', 'threshold_notify', 'warning') RETURNING id",
            b=budget_id,
        )[0][0]
    )
    enqueue(postgres, alert(event_id, "acme", budget_id), **row_keys(event_id, "acme", budget_id))
    postgres.run("ROLLBACK")
    assert outbox(postgres) == []


def test_enqueueing_the_same_event_and_topic_twice_keeps_one_row(postgres):
    budget_id = str(uuid.uuid4())
    event_id = record_event(postgres, budget_id=budget_id)
    enqueue(postgres, alert(event_id, "acme", budget_id), **row_keys(event_id, "acme", budget_id))
    assert len(outbox(postgres)) == 1


def test_enqueue_refuses_columns_that_contradict_the_message(postgres):
    budget_id = str(uuid.uuid4())
    message = alert(str(uuid.uuid4()), "acme", budget_id)
    with pytest.raises(ValueError, match="tenantId"):
        enqueue(postgres, message, **row_keys(message.body_json["eventId"], "globex", budget_id))


def test_when_sns_is_down_rows_stay_pending_and_a_later_run_sends_each_once(postgres, sns, sqs, topics, queue):
    first, second = record_event(postgres), record_event(postgres)

    # When SNS cannot be reached
    down = FailingSns(sns)
    report = publish_pending(postgres, down, topics)

    # Then nothing is lost: both rows wait, each with one attempt and the error
    assert (report.published, report.failed, report.still_pending) == (0, 2, 2)
    rows = outbox(postgres)
    assert [r["attempts"] for r in rows] == [1, 1]
    assert all(not r["published"] and "Could not connect" in r["last_error"] for r in rows)
    assert drain(sqs, queue) == []

    # Not before they are due again (back-off); when SNS is back and they are due, each is sent exactly once
    assert publish_pending(postgres, sns, topics).published == 0
    assert publish_pending(postgres, sns, topics, now=later()).published == 2
    assert publish_pending(postgres, sns, topics, now=later()).published == 0
    sent = [json.loads(m["Body"])["eventId"] for m in drain(sqs, queue)]
    assert sorted(sent) == sorted([first, second])
    assert [r["attempts"] for r in outbox(postgres)] == [2, 2]


def test_an_unreachable_endpoint_is_a_failure_not_a_crash(postgres, topics):
    record_event(postgres)
    nowhere = boto3.client(
        "sns",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, retries={"max_attempts": 1}),
    )
    report = publish_pending(postgres, nowhere, topics)
    assert (report.published, report.failed, report.still_pending) == (0, 1, 1)
    assert "EndpointConnectionError" in outbox(postgres)[0]["last_error"]


def test_a_wrong_topic_arn_leaves_the_row_pending_with_snss_answer(postgres, sns, topics):
    record_event(postgres)
    wrong = {**topics, "alerts": topics["alerts"].replace("alerts-test", "no-such-topic")}
    report = publish_pending(postgres, sns, wrong)
    assert (report.published, report.failed) == (0, 1)
    [row] = outbox(postgres)
    assert row["attempts"] == 1 and "NotFound" in row["last_error"]


def test_a_topic_without_an_arn_stays_pending_with_a_clear_error(postgres, sns, sqs, topics, queue):
    record_event(postgres, topics=("alerts", "admin"))
    report = publish_pending(postgres, sns, {"alerts": topics["alerts"], "admin": None})
    assert (report.published, report.failed, report.still_pending) == (1, 0, 1)
    admin = next(r for r in outbox(postgres) if r["topic"] == "admin")
    assert not admin["published"] and admin["attempts"] == 0
    assert admin["last_error"] == "no SNS topic ARN configured for topic 'admin' (set ADMIN_TOPIC_ARN)"
    assert len(drain(sqs, queue)) == 1

    # Once the ARN is configured, it goes out
    assert publish_pending(postgres, sns, topics, now=later()).published == 1
    assert len(drain(sqs, queue)) == 1


def test_a_run_stops_after_three_unreachable_rows_and_leaves_the_rest_untouched(postgres, sns, topics):
    for _ in range(5):
        record_event(postgres)
    down = FailingSns(sns)
    report = publish_pending(postgres, down, topics)
    assert (report.failed, report.still_pending, down.calls) == (3, 5, 3)
    assert sorted(r["attempts"] for r in outbox(postgres)) == [0, 0, 1, 1, 1]


def test_an_error_sns_answers_does_not_stop_the_run(postgres, sns, topics):
    for _ in range(4):
        record_event(postgres)
    refused = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
    report = publish_pending(postgres, FailingSns(sns, refused), topics)
    assert report.failed == 4
    assert all("Throttling" in r["last_error"] for r in outbox(postgres))


def test_publishing_inside_an_open_transaction_is_refused(postgres, sns, topics):
    postgres.run("BEGIN")
    try:
        with pytest.raises(RuntimeError, match="after committing"):
            publish_pending(postgres, sns, topics)
    finally:
        postgres.run("ROLLBACK")


def test_two_interleaved_publishers_never_send_the_same_row_twice(postgres, sns, sqs, topics, queue):
    events = [record_event(postgres) for _ in range(3)]
    other_connection = postgres_db.connect()
    reports = {}

    class PublishesWhileOtherRuns:
        """While the first publisher holds its first row, a second publisher runs to completion."""

        def __init__(self):
            self.nested = False

        def publish(self, **kwargs):
            if not self.nested:
                self.nested = True
                reports["second"] = publish_pending(other_connection, sns, topics)
            return sns.publish(**kwargs)

    try:
        reports["first"] = publish_pending(postgres, PublishesWhileOtherRuns(), topics)
    finally:
        other_connection.close()

    # The second skipped the row the first had locked; together they sent every row once
    assert reports["second"].published == 2
    assert reports["first"].published == 1
    sent = [json.loads(m["Body"])["eventId"] for m in drain(sqs, queue)]
    assert sorted(sent) == sorted(events)


def test_concurrent_publishers_on_threads_send_each_row_once(postgres, sns, sqs, topics, queue):
    events = [record_event(postgres) for _ in range(30)]
    connections = [postgres_db.connect(), postgres_db.connect()]
    reports = []

    def run(conn):
        reports.append(publish_pending(conn, sns, topics))

    try:
        threads = [threading.Thread(target=run, args=(conn,)) for conn in connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for conn in connections:
            conn.close()

    assert sum(r.published for r in reports) == 30
    sent = [json.loads(m["Body"])["eventId"] for m in drain(sqs, queue)]
    assert sorted(sent) == sorted(events)


# --- email subscriptions ------------------------------------------------------------------------------------------


def email_subscriptions(sns, topic_arn):
    """{address: filter policy} of the topic's email subscriptions."""
    result = {}
    for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
        if sub["Protocol"] == "email":
            attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
            assert attributes.get("FilterPolicyScope", "MessageAttributes") == "MessageAttributes"
            result[sub["Endpoint"]] = json.loads(attributes["FilterPolicy"])
    return result


def subscription_rows(conn, budget_id=None):
    rows = conn.run(
        "SELECT budget_id, topic, email, subscription_arn FROM finops_budget_subscriptions ORDER BY 1, 2, 3"
    )
    return [(str(b), t, e, arn) for b, t, e, arn in rows if budget_id is None or str(b) == budget_id]


def test_notify_emails_become_subscriptions_filtered_to_the_budget(postgres, sns, topics):
    budget = str(uuid.uuid4())
    sync_email_subscriptions(
        postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=["ana@acme.test", "Bo@Acme.test"]
    )
    assert email_subscriptions(sns, topics["alerts"]) == {
        "ana@acme.test": {"budgetId": [budget]},
        "bo@acme.test": {"budgetId": [budget]},
    }
    rows = subscription_rows(postgres)
    assert [(t, e) for _, t, e, _ in rows] == [("alerts", "ana@acme.test"), ("alerts", "bo@acme.test")]
    assert all(arn.startswith(topics["alerts"] + ":") for *_, arn in rows)


def test_subscriptions_follow_the_budgets_emails_and_repeating_changes_nothing(postgres, sns, topics):
    budget = str(uuid.uuid4())
    sync = lambda emails: sync_email_subscriptions(  # noqa: E731
        postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=emails
    )
    sync(["ana@acme.test", "bo@acme.test"])
    sync(["bo@acme.test", "cy@acme.test"])
    assert set(email_subscriptions(sns, topics["alerts"])) == {"bo@acme.test", "cy@acme.test"}
    before = subscription_rows(postgres)
    assert [e for _, _, e, _ in before] == ["bo@acme.test", "cy@acme.test"]

    sync(["bo@acme.test", "cy@acme.test"])
    assert subscription_rows(postgres) == before
    assert len(sns.list_subscriptions_by_topic(TopicArn=topics["alerts"])["Subscriptions"]) == 2


def test_deleting_a_budget_removes_its_subscriptions_on_both_topics(postgres, sns, topics):
    budget = str(uuid.uuid4())
    sync_email_subscriptions(
        postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=["ana@acme.test"]
    )
    sync_email_subscriptions(postgres, sns, topics["admin"], budget_id=budget, topic="admin", emails=["ops@acme.test"])

    remove_budget_subscriptions(postgres, sns, budget)
    remove_budget_subscriptions(postgres, sns, budget)  # idempotent

    assert email_subscriptions(sns, topics["alerts"]) == {} == email_subscriptions(sns, topics["admin"])
    assert subscription_rows(postgres) == []


def test_an_address_on_two_budgets_has_one_subscription_filtered_to_both(postgres, sns, topics):
    # SNS keeps one subscription per topic and address, so its filter lists every budget that mails it
    first, second = sorted([str(uuid.uuid4()), str(uuid.uuid4())])
    for budget in (first, second):
        sync_email_subscriptions(
            postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=["ana@acme.test"]
        )
    assert email_subscriptions(sns, topics["alerts"]) == {"ana@acme.test": {"budgetId": [first, second]}}
    assert len({arn for *_, arn in subscription_rows(postgres)}) == 1

    remove_budget_subscriptions(postgres, sns, first)
    assert email_subscriptions(sns, topics["alerts"]) == {"ana@acme.test": {"budgetId": [second]}}

    sync_email_subscriptions(postgres, sns, topics["alerts"], budget_id=second, topic="alerts", emails=[])
    assert email_subscriptions(sns, topics["alerts"]) == {}
    assert subscription_rows(postgres) == []


def test_a_subscription_still_pending_confirmation_is_forgotten_gracefully(postgres, sns, topics):
    budget = str(uuid.uuid4())
    # Given a row from an answer without an ARN, and one whose subscription SNS won't delete while pending
    sync_email_subscriptions(postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=["bo@acme.test"])
    postgres.run(
        "INSERT INTO finops_budget_subscriptions (budget_id, email, topic, subscription_arn) "
        "VALUES (CAST(:b AS uuid), 'ana@acme.test', 'alerts', 'pending confirmation')",
        b=budget,
    )
    pending = ClientError({"Error": {"Code": "InvalidParameter", "Message": "pending confirmation"}}, "Unsubscribe")

    class PendingSns(FailingSns):
        def unsubscribe(self, **kwargs):
            self.calls += 1
            raise pending

    client = PendingSns(sns)

    # When the budget no longer lists either address
    sync_email_subscriptions(postgres, client, topics["alerts"], budget_id=budget, topic="alerts", emails=[])

    # Then both rows are gone without an error, and SNS was asked only about the real ARN
    assert subscription_rows(postgres) == []
    assert client.calls == 1


def test_a_message_for_budget_a_reaches_subscriptions_filtered_to_a_only(postgres, sns, sqs, topics):
    # Given email subscriptions for budgets A and B, and queues subscribed with exactly their filter policies
    budget_a, budget_b = str(uuid.uuid4()), str(uuid.uuid4())
    for budget in (budget_a, budget_b):
        sync_email_subscriptions(
            postgres, sns, topics["alerts"], budget_id=budget, topic="alerts", emails=[f"{budget}@acme.test"]
        )
    policies = email_subscriptions(sns, topics["alerts"])
    queue_a = make_queue(sns, sqs, [topics["alerts"]], filter_policy=json.dumps(policies[f"{budget_a}@acme.test"]))
    queue_b = make_queue(sns, sqs, [topics["alerts"]], filter_policy=json.dumps(policies[f"{budget_b}@acme.test"]))

    # When an alert about A is published
    event_id = record_event(postgres, budget_id=budget_a)
    publish_pending(postgres, sns, topics)

    # Then only A's subscribers get it
    assert [json.loads(m["Body"])["eventId"] for m in drain(sqs, queue_a)] == [event_id]
    assert drain(sqs, queue_b) == []


# --- the local stack's resources ----------------------------------------------------------------------------------


@pytest.fixture
def moto_server(monkeypatch):
    """A moto server on a free port, as `make run` has one (its state is moto's process-wide state)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=5)
        server.stop()


def test_local_resources_are_created_once_and_the_queue_shows_what_was_sent(postgres, moto_server):
    first = ensure_local_notification_resources(moto_server)
    again = ensure_local_notification_resources(moto_server)
    assert first == again
    assert first["alerts"].endswith(":finops-budget-alerts-local")
    assert first["admin"].endswith(":finops-admin-alerts-local")
    assert first["queue_url"].endswith("/finops-notifications-local")

    sns = boto3.client("sns", endpoint_url=moto_server, region_name=REGION)
    for topic in ("alerts", "admin"):
        [subscription] = sns.list_subscriptions_by_topic(TopicArn=first[topic])["Subscriptions"]
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
        assert subscription["Protocol"] == "sqs" and attributes["RawMessageDelivery"] == "true"

    budget_id = str(uuid.uuid4())
    event_id = record_event(postgres, budget_id=budget_id, topics=("alerts", "admin"))
    assert publish_pending(postgres, sns, {"alerts": first["alerts"], "admin": first["admin"]}).published == 2

    messages = read_local_notifications(moto_server, first["queue_url"])
    assert len(messages) == 2
    assert {m["body"]["eventId"] for m in messages} == {event_id}
    assert all(m["attributes"]["budgetId"] == budget_id for m in messages)
    assert read_local_notifications(moto_server, first["queue_url"]) == []  # read messages are removed
