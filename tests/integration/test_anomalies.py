"""Anomaly detection over real ClickHouse data: the seed's scenario 2, acknowledgements, re-runs, alerts."""

import json
import random
import uuid
from datetime import date, datetime, timedelta

import pytest

from finops.budgets import wiring
from finops.settings import reload_settings
from tests.conftest import claims
from tests.factories import TELEMETRY, days_ago, event, run_scheduled
from tests.integration.conftest import drain, make_queue

ANOMALIES = "/v1/analytics/finops/anomalies"
USER = claims("acme", "user")
ADMIN = claims("acme", "admin")
SYSTEM = claims(None, "system")
SPIKE_DAY = 5  # days ago


def history(spike: bool = True, seed: int = 3, tenant: str = "acme"):
    """120 days of steady AI spend on two models with a weekly pattern; optionally one day with a runaway
    new model (the injected high anomaly)."""
    rng = random.Random(seed)
    events = []
    for n in range(120, 0, -1):
        day = days_ago(n)
        weekday = 1.0 if day.weekday() < 5 else 0.6
        events.append(
            event(tenant, day, "AI", model="gpt-4o", costUsd=f"{100 * weekday * rng.uniform(0.95, 1.05):.2f}")
        )
        events.append(
            event(tenant, day, "AI", model="claude-sonnet-4-5", costUsd=f"{50 * weekday * rng.uniform(0.95, 1.05):.2f}")
        )
        events.append(event(tenant, day, "COMPUTE", service="api", costUsd=f"{30 * rng.uniform(0.97, 1.03):.2f}"))
        if spike and n == SPIKE_DAY:
            events.append(event(tenant, day, "AI", model="o3", service="batch", costUsd="400.00"))
    return events


def ingest(api, events):
    for start in range(0, len(events), 5000):
        status, body, _ = api(
            "ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events[start : start + 5000]}
        )
        assert status == 200 and body["accepted"] == len(events[start : start + 5000]), body


def get(api, auth=USER, **query):
    params = {
        "tenantId": "acme",
        "from": str(days_ago(30)),
        "to": str(days_ago(1)),
        **{k: str(v) for k, v in query.items()},
    }
    return api("get_anomalies", "GET", ANOMALIES, auth=auth, query=params)


def test_seed_scenario_2_injected_high_day_is_reported_with_its_root_cause(clickhouse, api):
    ingest(api, history())
    status, body, _ = get(api)
    assert status == 200, body
    assert len(body["anomalies"]) == 1, body["anomalies"]
    anomaly = body["anomalies"][0]
    assert (anomaly["date"], anomaly["category"], anomaly["severity"], anomaly["direction"]) == (
        str(days_ago(SPIKE_DAY)),
        "AI",
        "high",
        "up",
    )
    assert anomaly["impact"] == pytest.approx(400, rel=0.15)
    assert anomaly["actual"] > anomaly["expected"] > 0
    top = anomaly["rootCause"][0]
    assert (top["dimension"], top["key"], top["firstSeen"]) in {("model", "o3", True), ("service", "batch", True)}
    assert {(c["dimension"], c["key"]) for c in anomaly["rootCause"]} >= {("model", "o3"), ("service", "batch")}


def test_steady_spend_with_a_weekly_pattern_has_no_anomalies(clickhouse, api):
    ingest(api, history(spike=False))
    status, body, _ = get(api, **{"from": str(days_ago(60))})
    assert status == 200 and body["anomalies"] == []


def young_tenant_with_spikes(spikes: dict[int, float]) -> list[dict]:
    """A tenant that started 75 days ago: two models, a weekly pattern, +-5% noise, and on the given days
    (days ago) a runaway job on one model adding that share of the day's total."""
    rng = random.Random(11)
    events = []
    for n in range(75, 0, -1):
        day = days_ago(n)
        weekday = 1.0 if day.weekday() < 5 else 0.5
        gpt, claude = 100 * weekday * rng.uniform(0.95, 1.05), 60 * weekday * rng.uniform(0.95, 1.05)
        gpt += spikes.get(n, 0.0) * (gpt + claude)
        events.append(event("acme", day, "AI", model="gpt-4o", costUsd=f"{gpt:.2f}"))
        events.append(event("acme", day, "AI", model="claude-sonnet-4-5", costUsd=f"{claude:.2f}"))
    return events


def test_every_spike_of_a_young_tenant_is_found_the_same_in_any_range(clickhouse, api):
    # The misses: a spike the day after another, and spikes weeks into the range of a tenant with
    # less history than the detector reads before the range (its first days used to count as zero spend).
    spikes = {40: 0.8, 20: 0.7, 19: 0.6}
    ingest(api, young_tenant_with_spikes(spikes))
    _, month, _ = get(api, **{"from": str(days_ago(45))})
    found = {a["date"]: a for a in month["anomalies"]}
    assert set(found) == {str(days_ago(n)) for n in spikes}
    assert all(a["direction"] == "up" for a in found.values())
    for n in spikes:  # what the 03:00 job saw the day after, and a query over the last three weeks
        for query in ({"from": str(days_ago(n)), "to": str(days_ago(n))}, {"from": str(days_ago(21))}):
            if days_ago(n) < date.fromisoformat(query["from"]):
                continue
            _, body, _ = get(api, **query)
            same = [a for a in body["anomalies"] if a["date"] == str(days_ago(n))]
            keys = ("id", "expected", "actual", "score", "severity")
            assert [{k: a[k] for k in keys} for a in same] == [{k: found[str(days_ago(n))][k] for k in keys}]


def test_a_drop_is_reported_as_down(clickhouse, api):
    events = [
        e for e in history(spike=False) if not (e["timestamp"].startswith(str(days_ago(3))) and e["category"] == "AI")
    ]
    ingest(api, events)
    _, body, _ = get(api, direction="down")
    assert [(a["date"], a["category"], a["direction"]) for a in body["anomalies"]] == [(str(days_ago(3)), "AI", "down")]
    _, up_only, _ = get(api, direction="up")
    assert up_only["anomalies"] == []


def test_filters_by_severity_category_and_the_statistical_baseline(clickhouse, api):
    ingest(api, history())
    assert get(api, severity="low")[1]["anomalies"] == []
    assert get(api, category="COMPUTE")[1]["anomalies"] == []
    _, statistical, _ = get(api, method="statistical")
    assert str(days_ago(SPIKE_DAY)) in {a["date"] for a in statistical["anomalies"]}
    assert all(a["method"] == "statistical" for a in statistical["anomalies"])


def acknowledge(api, anomaly_id, auth=ADMIN, **body):
    return api("acknowledge_anomaly", "POST", f"{ANOMALIES}/{anomaly_id}/acknowledge", auth=auth, body=body)


def test_reading_anomalies_stores_nothing_and_acknowledgements_survive_rereads(clickhouse, api):
    ingest(api, history())
    _, first, _ = get(api)
    anomaly_id = first["anomalies"][0]["id"]
    assert clickhouse.command("SELECT count() FROM cost_anomalies") == 0  # a read never writes
    status, acked, _ = acknowledge(api, anomaly_id, note="batch backfill")
    assert status == 200, acked
    assert acked["acknowledged"]["acknowledgedBy"] == ADMIN["sub"] and acked["acknowledged"]["note"] == "batch backfill"
    for _ in range(2):
        _, again, _ = get(api)
        assert [a["id"] for a in again["anomalies"]] == [anomaly_id]
        assert again["anomalies"][0]["acknowledged"]["note"] == "batch backfill"
    assert clickhouse.command("SELECT count() FROM cost_anomaly_acknowledgements_v2 FINAL") == 1


def test_the_first_acknowledgement_stands(clickhouse, api):
    ingest(api, history())
    anomaly_id = get(api)[1]["anomalies"][0]["id"]
    assert acknowledge(api, anomaly_id, note="first")[0] == 200
    status, second, _ = acknowledge(api, anomaly_id, auth=claims("acme", "admin") | {"sub": "someone-else"}, note="2")
    assert status == 200
    assert (second["acknowledged"]["note"], second["acknowledged"]["acknowledgedBy"]) == ("first", ADMIN["sub"])
    # Two acknowledgements that raced past the check: every read, and every merge, keeps the earliest.
    later = datetime.fromisoformat(second["acknowledged"]["acknowledgedAt"]) + timedelta(seconds=1)
    clickhouse.insert(
        "cost_anomaly_acknowledgements_v2",
        [["acme", anomaly_id, "late", later, "late"]],
        column_names=["tenant_id", "anomaly_id", "acknowledged_by", "acknowledged_at", "note"],
    )
    clickhouse.command("OPTIMIZE TABLE cost_anomaly_acknowledgements_v2 FINAL")
    assert get(api)[1]["anomalies"][0]["acknowledged"]["note"] == "first"


def test_a_user_may_read_anomalies_but_not_acknowledge_them(clickhouse, api):
    ingest(api, history())
    status, body, _ = get(api, auth=USER)
    assert status == 200
    assert acknowledge(api, body["anomalies"][0]["id"], auth=USER)[0] == 403
    assert get(api)[1]["anomalies"][0]["acknowledged"] is None


def test_a_system_caller_acknowledges_any_tenants_anomaly(clickhouse, api):
    ingest(api, history() + history(spike=False, tenant="globex", seed=9))
    anomaly_id = get(api)[1]["anomalies"][0]["id"]
    status, body, _ = acknowledge(api, anomaly_id, auth=SYSTEM, note="seen by ops")
    assert status == 200 and body["tenantId"] == "acme" and body["acknowledged"]["note"] == "seen by ops"


def test_an_id_for_a_day_that_is_no_anomaly_is_404(clickhouse, api):
    from finops.anomalies.ids import anomaly_id

    ingest(api, history())
    calm_day = anomaly_id("acme", days_ago(SPIKE_DAY + 1), "AI", "auto")
    assert acknowledge(api, calm_day)[0] == 404
    assert acknowledge(api, anomaly_id("acme", days_ago(SPIKE_DAY), "COMPUTE", "auto"))[0] == 404


def test_acknowledging_is_tenant_scoped_and_unknown_ids_are_404(clickhouse, api):
    ingest(api, history())
    anomaly_id = get(api)[1]["anomalies"][0]["id"]
    assert acknowledge(api, anomaly_id, auth=claims("globex", "admin"))[0] == 404
    assert acknowledge(api, "00000000-0000-4000-8000-000000000000")[0] == 404
    assert acknowledge(api, "nope")[0] == 404
    # The tenant's own id with its day forged to year 1 or past year 9999: unknown, not a 500.
    number = uuid.UUID(anomaly_id).int & ~(((1 << 22) - 1) << 40)
    for ordinal in (1, 4_000_000):
        assert acknowledge(api, str(uuid.UUID(int=number | ordinal << 40)))[0] == 404
    assert acknowledge(api, anomaly_id, auth=None)[0] == 401
    assert get(api, auth=claims("globex", "user"))[0] == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"severity": "huge"}, "severity"),
        ({"method": "ml"}, "method"),
        ({"direction": "sideways"}, "direction"),
        ({"from": str(days_ago(500))}, "to"),
    ],
)
def test_bad_parameters_are_422(clickhouse, api, query, field):
    status, body, _ = get(api, **query)
    assert status == 422 and body["errors"][0]["loc"][-1] == field


def test_daily_job_alerts_each_new_high_anomaly_once(clickhouse, postgres, sns, sqs, topics, monkeypatch, api):
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topics["alerts"])
    monkeypatch.setenv("ADMIN_TOPIC_ARN", topics["admin"])
    reload_settings()
    wiring.forget()
    queue = make_queue(sns, sqs, topics.values())
    events = history(spike=False)
    events.append(event("acme", days_ago(1), "AI", model="o3", costUsd="500"))
    events += [e for e in history(spike=False, tenant="globex", seed=9)]
    ingest(api, events)
    first = run_scheduled("run_daily_anomaly_detection", 3)
    assert (first["tenants"], first["high"], first["alertsQueued"]) == (2, 1, 1)
    again = run_scheduled("run_daily_anomaly_detection", 3)
    assert (again["high"], again["alertsQueued"]) == (1, 0)  # found again, not queued again
    messages = drain(sqs, queue)
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert (body["eventType"], body["tenantId"], body["category"], body["date"]) == (
        "anomaly",
        "acme",
        "AI",
        str(days_ago(1)),
    )
    assert messages[0]["MessageAttributes"]["severity"]["StringValue"] == "critical"


def test_today_a_partial_day_is_not_judged(clickhouse, api):
    """Found by the dashboard work: with `to` = today, today's spend so far read as a drop in every category."""
    ingest(api, history(spike=False))
    _, body, _ = get(api, **{"to": str(days_ago(0))})
    assert [a for a in body["anomalies"] if a["date"] == str(days_ago(0))] == []
