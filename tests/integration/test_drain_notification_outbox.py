"""The outbox drainer (every 5 minutes): publishes what waits, reports the backlog the alarms watch, and needs
nothing but PostgreSQL and SNS (moto)."""

import json

import pytest

from finops.db import clickhouse as clickhouse_db
from finops.notifications import publisher
from finops.settings import reload_settings
from local.lambda_runtime import ROOT, LambdaContext, load_function
from tests.integration.conftest import drain
from tests.integration.test_notifications import record_event

FUNCTION = "drain_notification_outbox"
EVENT = json.loads((ROOT / "events" / f"{FUNCTION}.scheduled.json").read_text())


@pytest.fixture
def drainer(postgres, topics, monkeypatch):
    """Runs the handler with the scheduled sample event; returns its reply and the metrics it emitted (EMF)."""
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
    reload_settings()
    publisher.sns_client.cache_clear()

    def run(capsys):
        capsys.readouterr()
        reply = load_function(FUNCTION).lambda_handler(EVENT, LambdaContext(function_name=FUNCTION))
        return reply, emitted(capsys.readouterr().out)

    yield run
    publisher.sns_client.cache_clear()


def emitted(stdout):
    """{metric name: (values, unit, dimension sets)} of the EMF documents Powertools printed."""
    values = {}
    for line in stdout.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "FinOps"
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values[metric["Name"]] = (
                    value if isinstance(value, list) else [value],
                    metric["Unit"],
                    directive["Dimensions"],
                )
    return values


def test_pending_alerts_are_published_and_an_empty_backlog_reported(drainer, postgres, queue, sqs, capsys):
    # Given alerts queued for both topics (say, SNS was down when they fired)
    record_event(postgres, topics=("alerts", "admin"))

    # When the drainer runs, twice (EventBridge may deliver a tick again)
    first, metrics = drainer(capsys)
    second, _ = drainer(capsys)

    # Then both went out once, and the alarms read an empty, fresh outbox
    assert len(drain(sqs, queue)) == 2
    assert first == {
        "published": 2,
        "subscriptionsDone": 0,
        "failed": 0,
        "pending": 0,
        "oldestPendingSeconds": 0,
        "deadMessages": 0,
    }
    assert second["published"] == 0
    assert metrics["OutboxOldestPendingSeconds"] == ([0.0], "Seconds", [["service"]])
    assert metrics["OutboxDeadMessages"] == ([0], "Count", [["service"]])
    assert metrics["OutboxPublished"][0] == [2]


def test_the_age_of_the_oldest_waiting_alert_and_the_dead_ones_are_reported(drainer, postgres, monkeypatch, capsys):
    # Given admin alerts that cannot go out (no admin topic configured): one queued 20 minutes ago, one given up
    monkeypatch.delenv("ADMIN_TOPIC_ARN")
    old = record_event(postgres, topics=("admin",))
    dead = record_event(postgres, topics=("admin",))
    postgres.run(
        "UPDATE finops_notification_outbox SET created_at = now() - interval '20 minutes' WHERE event_id = CAST(:e AS uuid)",
        e=old,
    )
    postgres.run(
        "UPDATE finops_notification_outbox SET created_at = now() - interval '2 hours', attempts = 15, "
        "dead_at = now() WHERE event_id = CAST(:e AS uuid)",
        e=dead,
    )
    reload_settings()

    # When the drainer runs
    reply, metrics = drainer(capsys)

    # Then the oldest pending one is 20 minutes old (the dead one, older, is counted apart) and one is dead
    assert (reply["published"], reply["pending"], reply["deadMessages"]) == (0, 1, 1)
    assert 1200 <= reply["oldestPendingSeconds"] < 1260
    ([age], _, _) = metrics["OutboxOldestPendingSeconds"]
    assert 1200 <= age < 1260
    assert metrics["OutboxDeadMessages"][0] == [1]


def test_the_drainer_needs_no_clickhouse(drainer, postgres, queue, sqs, monkeypatch, capsys):
    """Why the template grants it only the PostgreSQL secret: it runs with ClickHouse out of reach."""

    def unreachable(*args, **kwargs):
        raise AssertionError("the outbox drainer opened ClickHouse")

    clickhouse_db.reset_client()
    monkeypatch.setattr(clickhouse_db, "connect", unreachable)
    record_event(postgres)

    reply, _ = drainer(capsys)

    assert reply["published"] == 1 and len(drain(sqs, queue)) == 1
