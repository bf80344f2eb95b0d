"""The local API over real HTTP, as a user calls it after `make run`: auth, demo data, ingestion, aggregation,
exports, docs, tokens from `make`, manual jobs, a restart and a kill -9.

The restart tests are last in the file: they restart the session's server.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from local.lambda_runtime import ROOT
from tests.e2e.local_server import LocalServer, free_port, listening, postgres_servers

pytestmark = pytest.mark.e2e

API = "/v1/analytics/finops"
BUDGETS = "/api/ai-budget/finops/budgets"
CATEGORIES = {"AI", "COMPUTE", "STORAGE", "EXPORT", "EGRESS"}


def today() -> date:
    return datetime.now(UTC).date()


def demo_range() -> dict[str, str]:
    yesterday = today() - timedelta(days=1)
    return {"tenantId": "demo", "from": (yesterday - timedelta(days=89)).isoformat(), "to": yesterday.isoformat()}


def day_total(server: LocalServer, token: str, day: date) -> float:
    reply = server.get(
        f"{API}/costs", token=token, query={"tenantId": "demo", "from": day.isoformat(), "to": day.isoformat()}
    )
    assert reply.status == 200, reply.text
    return float(reply.json["total"])


def ai_event(event_id: str, **usage: int) -> dict:
    return {
        "eventId": event_id,
        "tenantId": "demo",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "category": "AI",
        "service": "e2e-tests",
        "region": "us-east-1",
        "model": "gpt-4o",
        **usage,
    }


def test_health_answers_without_a_token(local_server: LocalServer) -> None:
    reply = local_server.get("/health")

    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_a_request_without_a_token_is_refused_with_401(local_server: LocalServer) -> None:
    reply = local_server.get(f"{API}/costs", query=demo_range())

    assert reply.status == 401
    assert reply.json["status"] == 401
    assert reply.json["detail"]
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("flaw", ["wrong secret", "expired", "wrong audience", "wrong issuer", "not a jwt"])
def test_an_invalid_token_is_refused_with_401(local_server: LocalServer, flaw: str) -> None:
    # Given a token that is right in every way but one
    good = local_server.token("demo", "admin")
    claims = jwt.decode(good, options={"verify_signature": False})
    secret = (local_server.data_dir / "jwt-secret").read_text().strip()
    if flaw == "wrong secret":
        secret = "not-the-local-secret-" + "x" * 32
    elif flaw == "expired":
        claims["exp"] = int(time.time()) - 60
    elif flaw == "wrong audience":
        claims["aud"] = "someone-else"
    elif flaw == "wrong issuer":
        claims["iss"] = "https://evil.example/"
    token = "not.a.jwt" if flaw == "not a jwt" else jwt.encode(claims, secret, algorithm="HS256")

    reply = local_server.get(f"{API}/costs", token=token, query=demo_range())

    assert reply.status == 401, reply.text
    assert local_server.get(f"{API}/costs", token=good, query=demo_range()).status == 200


def test_a_user_asking_for_another_tenant_gets_403_and_no_data(local_server: LocalServer) -> None:
    token = local_server.token("acme", "user")

    reply = local_server.get(f"{API}/costs", token=token, query=demo_range())

    assert reply.status == 403
    assert "demo" not in reply.text and "rows" not in reply.text


def test_unknown_route_is_404_and_a_wrong_method_is_405(local_server: LocalServer) -> None:
    token = local_server.token("demo", "admin")

    assert local_server.get(f"{API}/nothing-here", token=token).status == 404
    wrong_method = local_server.request("DELETE", f"{API}/costs", token=token)
    assert wrong_method.status == 405
    assert wrong_method.headers["Allow"] == "GET"


def test_demo_tenant_has_90_days_of_every_category_with_a_weekly_pattern_a_trend_and_a_spike(
    local_server: LocalServer,
) -> None:
    token = local_server.token("demo", "user")

    reply = local_server.get(f"{API}/costs", token=token, query={**demo_range(), "groupBy": "category"})

    assert reply.status == 200, reply.text
    by_day: dict[date, dict[str, float]] = defaultdict(dict)
    for row in reply.json["rows"]:
        by_day[date.fromisoformat(row["period"])][row["key"]] = row["cost"]
    days = sorted(by_day)
    assert len(days) == 90
    assert days[-1] == today() - timedelta(days=1)
    assert all(set(costs) == CATEGORIES for costs in by_day.values())

    # One clear AI spike about 20 days ago
    ai = {day: costs["AI"] for day, costs in by_day.items()}
    spike = max(ai, key=ai.__getitem__)
    assert ai[spike] > 2.5 * statistics.median(ai.values())
    assert 15 <= (today() - spike).days <= 25

    totals = {day: sum(costs.values()) for day, costs in by_day.items() if day != spike}
    weekdays = [cost for day, cost in totals.items() if day.weekday() < 5]
    weekends = [cost for day, cost in totals.items() if day.weekday() >= 5]
    assert statistics.mean(weekdays) > 1.3 * statistics.mean(weekends)
    first, last = days[:28], days[-28:]
    assert statistics.mean(totals[d] for d in last if d in totals) > 1.1 * statistics.mean(
        totals[d] for d in first if d in totals
    )


def test_demo_tenant_uses_several_ai_models_services_and_regions(local_server: LocalServer) -> None:
    token = local_server.token("demo", "user")

    models = {r["key"] for r in local_server.get(f"{API}/costs/by-model", token=token, query=demo_range()).json["rows"]}
    regions = local_server.get(f"{API}/costs/by-region", token=token, query=demo_range()).json["rows"]
    services = local_server.get(f"{API}/costs/by-service", token=token, query=demo_range()).json["rows"]

    assert {"gpt-4o", "gpt-4o-mini"} <= models
    assert any(model.startswith("claude") for model in models)
    assert len(regions) >= 3 and len(services) >= 3


def test_ingested_event_is_visible_within_a_second_and_a_resend_is_a_duplicate(local_server: LocalServer) -> None:
    system, admin = local_server.token(None, "system"), local_server.token("demo", "admin")
    before = day_total(local_server, admin, today())
    # 1M input tokens at $2.50 and 100k output tokens at $10 per 1M on the default rate card: $3.50
    event = ai_event(f"e2e-{uuid.uuid4()}", inputTokens=1_000_000, outputTokens=100_000)

    sent = local_server.post(f"{API}/telemetry", {"events": [event]}, token=system)

    assert sent.status == 200, sent.text
    assert sent.json["accepted"] == 1 and sent.json["duplicates"] == 0 and sent.json["rejected"] == []
    started = time.monotonic()
    while (after := day_total(local_server, admin, today())) == pytest.approx(before, abs=1e-9):
        assert time.monotonic() - started < 1.0, "the event is not visible within a second"
        time.sleep(0.05)
    assert after == pytest.approx(before + 3.5, abs=1e-6)

    resent = local_server.post(f"{API}/telemetry", {"events": [event]}, token=system)

    assert resent.status == 200, resent.text
    assert resent.json["accepted"] == 0 and resent.json["duplicates"] == 1
    assert day_total(local_server, admin, today()) == pytest.approx(after, abs=1e-9)


def test_aggregating_twice_gives_the_same_totals(local_server: LocalServer) -> None:
    system, admin = local_server.token(None, "system"), local_server.token("demo", "admin")
    local_server.post(
        f"{API}/telemetry",
        {"events": [ai_event(f"e2e-{uuid.uuid4()}", inputTokens=400_000, outputTokens=0)]},
        token=system,
    )
    query = {**demo_range(), "to": today().isoformat(), "groupBy": "category"}
    before = local_server.get(f"{API}/costs", token=admin, query=query).json
    yesterday = today() - timedelta(days=1)

    for _ in range(2):
        for body in (
            {"date": today().isoformat()},
            {"from": (yesterday - timedelta(days=6)).isoformat(), "to": yesterday.isoformat()},
        ):
            reply = local_server.post(f"{API}/aggregate", {**body, "tenantId": "demo"}, token=admin)
            assert reply.status == 200, reply.text
            assert reply.json["days"]

        after = local_server.get(f"{API}/costs", token=admin, query=query).json
        assert after["total"] == pytest.approx(before["total"], abs=1e-6)
        assert after["rows"] == before["rows"]


def test_costs_export_as_csv(local_server: LocalServer) -> None:
    token = local_server.token("demo", "user")
    query = {**demo_range(), "groupBy": "category", "granularity": "monthly"}

    as_json = local_server.get(f"{API}/costs", token=token, query=query).json
    as_csv = local_server.get(f"{API}/costs", token=token, query={**query, "format": "csv"})

    assert as_csv.status == 200
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["period"], r["category"]) for r in rows] == [(r["period"], r["key"]) for r in as_json["rows"]]
    assert sum(float(r["cost"]) for r in rows) == pytest.approx(as_json["total"], abs=1e-4)
    assert {r["currency"] for r in rows} == {"USD"}


def test_docs_and_openapi_are_served_offline(local_server: LocalServer) -> None:
    document = local_server.get("/openapi.json")
    page = local_server.get("/docs")
    bundle = local_server.get("/docs/swagger-ui-bundle.min.js")

    assert document.status == 200
    assert document.json["openapi"].startswith("3.1")
    assert f"{API}/costs" in document.json["paths"] and f"{API}/telemetry" in document.json["paths"]
    assert document.json["servers"][0]["url"] == local_server.base_url
    assert page.status == 200 and "SwaggerUIBundle" in page.text and "/docs/swagger-ui-bundle.min.js" in page.text
    assert bundle.status == 200 and len(bundle.text) > 100_000


def test_make_token_prints_a_token_the_server_accepts(local_server: LocalServer) -> None:
    printed = subprocess.run(
        ["make", "-s", "token", "TENANT=demo", "ROLE=user"],
        cwd=ROOT,
        env=local_server.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    token = printed.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert local_server.get(f"{API}/costs", token=token, query=demo_range()).status == 200
    assert local_server.get(f"{API}/costs", token=token, query={**demo_range(), "tenantId": "acme"}).status == 403


def test_manual_invoke_runs_the_daily_job_through_the_running_server(local_server: LocalServer) -> None:
    # The server holds the chDB data directory, so an in-process run would fail: success means it went through it.
    done = subprocess.run(
        [sys.executable, "-m", "local.invoke", "run_daily_aggregation"],
        cwd=ROOT,
        env=local_server.env(AWS_LOCAL_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (today() - timedelta(days=1)).isoformat() in [d["date"] for d in result["days"]]
    assert "POST /local/invoke/run_daily_aggregation -> 200" in local_server.log()


def test_manual_invoke_without_a_server_runs_the_job_in_process(tmp_path: Path) -> None:
    idle = LocalServer(data_dir=tmp_path / "data")  # never started: nothing listens on its port

    done = subprocess.run(
        [sys.executable, "-m", "local.invoke", "run_daily_aggregation"],
        cwd=ROOT,
        env=idle.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "no local server" in done.stderr
    assert json.loads(done.stdout)["days"][0]["date"] == (today() - timedelta(days=1)).isoformat()
    assert not listening(idle.aws_port), "the in-process run left moto running"
    assert not postgres_servers(idle.data_dir), "the in-process run left PostgreSQL running"


def test_a_second_server_on_the_same_port_or_data_exits_with_a_clear_message(local_server: LocalServer) -> None:
    same_port = subprocess.run(
        [sys.executable, "-m", "local.server"],
        cwd=ROOT,
        env=local_server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    same_data = subprocess.run(
        [sys.executable, "-m", "local.server"],
        cwd=ROOT,
        env=local_server.env(PORT=str(free_port()), AWS_LOCAL_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert same_port.returncode == 1 and "already in use" in same_port.stderr
    assert same_data.returncode == 1 and "in use by another process" in same_data.stderr
    assert local_server.get("/health").status == 200


def create_budget(server: LocalServer, tenant: str) -> dict:
    body = {
        "tenantId": tenant,
        "name": f"Kept {uuid.uuid4().hex[:8]}",  # one live budget name per tenant
        "amount": 100,
        "period": "monthly",
        "policy": {"notifyThreshold": 80},
        "startDate": today().replace(day=1).isoformat(),
    }
    created = server.post(BUDGETS, body, token=server.token(tenant, "admin"))
    assert created.status == 201, created.text
    return dict(created.json)


def test_restart_keeps_the_data_and_does_not_load_the_demo_data_again(local_server: LocalServer) -> None:
    # Given an event of today, the demo data and a budget (PostgreSQL)
    system, admin = local_server.token(None, "system"), local_server.token("demo", "admin")
    local_server.post(
        f"{API}/telemetry",
        {"events": [ai_event(f"e2e-{uuid.uuid4()}", inputTokens=2_000_000, outputTokens=0)]},
        token=system,
    )
    query = {**demo_range(), "to": today().isoformat(), "groupBy": "category"}
    before = local_server.get(f"{API}/costs", token=admin, query=query).json
    assert "events ingested" in local_server.log()
    budget = create_budget(local_server, "demo")

    # When the server stops (leaving nothing listening, and no PostgreSQL running) and starts again on the same
    # data directory
    local_server.stop()
    assert not listening(local_server.port) and not listening(local_server.aws_port)
    assert not postgres_servers(local_server.data_dir)
    local_server.start()

    # Then the data is all there, once
    after = local_server.get(f"{API}/costs", token=admin, query=query).json
    assert after["rows"] == before["rows"]
    assert "events ingested" not in local_server.log()
    assert "demo data: already loaded" in local_server.log()
    assert "postgresql: applied" not in local_server.log()
    kept = local_server.get(f"{BUDGETS}/{budget['id']}", token=admin)
    assert kept.status == 200, kept.text
    assert kept.json == budget


def test_after_a_kill_9_the_next_start_reattaches_to_the_postgresql_left_running(local_server: LocalServer) -> None:
    if not local_server.embedded_postgres:
        pytest.skip("the server uses the PostgreSQL of DATABASE_URL")
    # Given a budget, and the embedded PostgreSQL of the running server
    budget = create_budget(local_server, "demo")
    [postgres] = postgres_servers(local_server.data_dir)

    # When the server is killed with no chance to stop its stack
    local_server.kill()

    # Then moto dies with it, while PostgreSQL (detached by pg_ctl) keeps running
    deadline = time.monotonic() + 10
    while listening(local_server.aws_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not listening(local_server.aws_port), "moto_server outlived a killed server"
    assert postgres_servers(local_server.data_dir) == [postgres]

    # And the next start is not blocked: it reattaches to that server, with the budget there
    local_server.start()
    assert "reattached to the server" in local_server.log()
    assert postgres_servers(local_server.data_dir) == [postgres]
    kept = local_server.get(f"{BUDGETS}/{budget['id']}", token=local_server.token("demo", "user"))
    assert kept.status == 200, kept.text
    # (the session's end stops the server normally, and checks that PostgreSQL stops with it)
