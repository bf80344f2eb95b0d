"""Budgets end to end in-process: CRUD, validation, tenancy, status, enforcement, events, the daily check."""

import base64
import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from finops.budgets import job
from finops.budgets.enforcement import check_budget
from finops.budgets.service import Budgets
from finops.budgets.spend import SpendReader
from finops.db import postgres as postgres_db
from tests.conftest import claims
from tests.factories import TELEMETRY, days_ago, event, run_scheduled, today

B = "/api/ai-budget/finops"
ADMIN = claims("acme", "admin")
USER = claims("acme", "user")
SYSTEM = claims(None, "system")


@pytest.fixture
def stack(clickhouse, postgres):
    return clickhouse, postgres


def budget_body(**overrides):
    body = {
        "tenantId": "acme",
        "name": "Monthly AI",
        "amount": 100,
        "period": "monthly",
        "categories": ["AI"],
        "policy": {
            "notifyThreshold": 80,
            "enforceThreshold": 100,
            "actions": ["notify", "block_ai"],
            "notifyEmails": ["owner@acme.test"],
        },
        "startDate": str(today().replace(day=1)),
    }
    body.update(overrides)
    return body


def create(api, auth=ADMIN, **overrides):
    return api("create_budget", "POST", f"{B}/budgets", auth=auth, body=budget_body(**overrides))


def spend(api, amount, category="AI", tenant="acme", day=None):
    status, body, _ = api(
        "ingest_telemetry",
        "POST",
        TELEMETRY,
        auth=SYSTEM,
        body={"events": [event(tenant, day or today(), category, costUsd=str(amount))]},
    )
    assert status == 200 and body["accepted"] == 1, body


def check(api, budget_id, operation="ai_generation", estimate=0, auth=SYSTEM):
    return api(
        "check_budget_enforcement",
        "POST",
        f"{B}/budgets/{budget_id}/check-enforcement",
        auth=auth,
        body={"operationType": operation, "estimatedCostUsd": estimate},
    )


def events(api, budget_id, auth=USER, **query):
    status, body, _ = api("list_budget_events", "GET", f"{B}/budgets/{budget_id}/events", auth=auth, query=query)
    assert status == 200, body
    return body


def event_types(api, budget_id):
    return [e["eventType"] for e in events(api, budget_id, limit="100")["events"]]


def test_create_returns_201_with_id_and_version(stack, api):
    status, body, _ = create(api)
    assert status == 201, body
    assert body["version"] == 1 and body["id"]
    assert body["policy"]["notifyEmails"] == ["owner@acme.test"]
    assert event_types(api, body["id"]) == ["created"]


def test_create_answers_where_the_budget_is_and_its_etag(stack, api):
    status, body, headers = create(api)

    assert status == 201
    assert headers["Location"] == f"{B}/budgets/{body['id']}"
    assert headers["ETag"] == '"1"' and body["currency"] == "USD"
    status, fetched, fetched_headers = api("get_budget", "GET", headers["Location"], auth=USER)
    assert status == 200 and fetched["id"] == body["id"] and fetched_headers["ETag"] == '"1"'


def test_the_etag_of_a_get_is_what_if_match_takes(stack, api):
    _, budget, _ = create(api)
    path = f"{B}/budgets/{budget['id']}"
    etag = api("get_budget", "GET", path, auth=USER)[2]["ETag"]

    status, updated, headers = api(
        "update_budget", "PATCH", path, auth=ADMIN, body={"amount": 300}, headers={"If-Match": etag}
    )
    assert status == 200 and updated["version"] == 2 and headers["ETag"] == '"2"'
    status, stale, headers = api(
        "update_budget", "PATCH", path, auth=ADMIN, body={"amount": 400}, headers={"If-Match": etag}
    )
    assert status == 412 and headers["Content-Type"] == "application/problem+json"
    assert (stale["type"], stale["title"], stale["status"]) == ("about:blank", "Precondition Failed", 412)
    assert stale["detail"]
    status, missing, _ = api("update_budget", "PATCH", path, auth=ADMIN, body={"amount": 400})
    assert status == 428 and missing["title"] == "Precondition Required"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"amount": 0}, "amount", "greater than or equal to 0.01"),
        ({"amount": -5}, "amount", "greater than or equal to 0.01"),
        ({"period": "weekly"}, "period", "Input should be"),
        ({"categories": ["GPU"]}, "categories", "Input should be"),
        ({"policy": {"notifyThreshold": 0}}, "notifyThreshold", "greater than or equal to 1"),
        (
            {"policy": {"notifyThreshold": 80, "enforceThreshold": 1001}},
            "enforceThreshold",
            "less than or equal to 1000",
        ),
        ({"policy": {"notifyThreshold": 80, "actions": ["notify", "shout"]}}, "actions", "Input should be"),
        (
            {"policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["rate_limit"]}},
            "policy",
            "rateLimitFactor is required",
        ),
        ({"policy": {"notifyThreshold": 80, "notifyEmails": ["not-an-email"]}}, "notifyEmails", "not a valid email"),
        (
            {"policy": {"notifyThreshold": 80, "notifyEmails": [f"u{i}@acme.test" for i in range(11)]}},
            "notifyEmails",
            "at most 10",
        ),
        (
            {"policy": {"notifyThreshold": 90, "enforceThreshold": 80}},
            "policy",
            "greater than or equal to notifyThreshold",
        ),
        ({"startDate": "2026-02-30"}, "startDate", "date"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"color": "red"}, "color", "Extra inputs"),
    ],
)
def test_bad_budget_is_a_422_naming_the_field_and_rule(stack, api, change, field, rule):
    status, body, _ = create(api, **change)
    assert status == 422, body
    assert any(field in [str(p) for p in d["loc"]] and rule in d["msg"] for d in body["errors"]), body


def test_one_live_budget_per_name_and_tenant(stack, api):
    status, first, _ = create(api)
    assert create(api, name="monthly ai")[0] == 409
    assert create(api, tenantId="globex", auth=claims("globex", "admin"))[0] == 201
    api("delete_budget", "DELETE", f"{B}/budgets/{first['id']}", auth=ADMIN)
    assert create(api)[0] == 201


def test_roles_and_tenancy_on_every_budget_endpoint(stack, api):
    _, budget, _ = create(api)
    bid = budget["id"]
    other = claims("globex", "admin")
    assert create(api, auth=USER)[0] == 403
    assert create(api, tenantId="globex")[0] == 403
    # Another tenant's budget looks exactly like a budget that does not exist
    missing = "00000000-0000-4000-8000-000000000000"
    for function, method, suffix, body in [
        ("get_budget", "GET", "", None),
        ("get_budget_status", "GET", "/status", None),
        ("list_budget_events", "GET", "/events", None),
        ("update_budget", "PATCH", "", {"amount": 5, "version": 1}),
        ("delete_budget", "DELETE", "", None),
        ("check_budget_enforcement", "POST", "/check-enforcement", {"operationType": "export"}),
    ]:
        foreign = api(function, method, f"{B}/budgets/{bid}{suffix}", auth=other, body=body)
        unknown = api(function, method, f"{B}/budgets/{missing}{suffix}", auth=other, body=body)
        garbage = api(function, method, f"{B}/budgets/not-a-uuid{suffix}", auth=other, body=body)
        assert foreign[0] == unknown[0] == garbage[0] == 404, (function, foreign)
        assert foreign[1] == unknown[1]
    for function, suffix in [("list_tenant_budgets", ""), ("list_tenant_budget_statuses", "/status")]:
        assert api(function, "GET", f"{B}/budgets/tenant/acme{suffix}", auth=other)[0] == 403
        assert api(function, "GET", f"{B}/budgets/tenant/acme{suffix}", auth=USER)[0] == 200
    assert api("update_budget", "PATCH", f"{B}/budgets/{bid}", auth=USER, body={"amount": 5, "version": 1})[0] == 403
    assert api("delete_budget", "DELETE", f"{B}/budgets/{bid}", auth=USER)[0] == 403
    assert check(api, bid, auth=USER)[0] == 403  # a user sees the budget but may not check it (as for update)
    assert (
        api(
            "check_tenant_enforcement",
            "POST",
            f"{B}/tenants/acme/check-enforcement",
            auth=USER,
            body={"operationType": "export"},
        )[0]
        == 403
    )
    assert (
        api(
            "check_tenant_enforcement",
            "POST",
            f"{B}/tenants/acme/check-enforcement",
            auth=ADMIN,
            body={"operationType": "export"},
        )[0]
        == 200
    )
    assert api("get_budget", "GET", f"{B}/budgets/{bid}", auth=None)[0] == 401


def test_patch_needs_the_current_version_and_a_stale_one_changes_nothing(stack, api):
    _, budget, _ = create(api)
    path = f"{B}/budgets/{budget['id']}"
    status, updated, _ = api(
        "update_budget",
        "PATCH",
        path,
        auth=ADMIN,
        body={"amount": 250},
    )
    assert status == 428
    status, updated, _ = api("update_budget", "PATCH", path, auth=ADMIN, body={"amount": 250, "version": 1})
    assert status == 200 and updated["version"] == 2 and updated["amount"] == 250
    status, body, _ = api("update_budget", "PATCH", path, auth=ADMIN, body={"amount": 999, "version": 1})
    assert status == 412
    for not_a_version in ('"²"', '"' + "9" * 5000 + '"'):  # digits int() refuses: a 422, not a 500
        status, body, _ = api(
            "update_budget", "PATCH", path, auth=ADMIN, body={"amount": 999}, headers={"If-Match": not_a_version}
        )
        assert status == 422 and body["errors"][0]["loc"] == ["header", "If-Match"]
    assert api("get_budget", "GET", path, auth=USER)[1]["amount"] == 250
    from local.lambda_runtime import LambdaContext, decode_body, http_api_event, load_function

    event = http_api_event("PATCH", path, body={"name": "Renamed"}, claims=ADMIN, headers={"If-Match": '"2"'})
    response = load_function("update_budget").lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 200 and decode_body(response)["version"] == 3
    assert event_types(api, budget["id"])[:2] == ["updated", "updated"]


def test_soft_delete_keeps_the_budget_for_the_audit_trail_but_stops_enforcing_it(stack, api):
    _, budget, _ = create(api, amount=1)
    spend(api, 5)
    path = f"{B}/budgets/{budget['id']}"
    assert api("delete_budget", "DELETE", path, auth=ADMIN)[0] == 204
    status, kept, _ = api("get_budget", "GET", path, auth=USER)
    assert status == 200 and kept["deletedAt"]
    assert api("list_tenant_budgets", "GET", f"{B}/budgets/tenant/acme", auth=USER)[1]["budgets"] == []
    listed = api("list_tenant_budgets", "GET", f"{B}/budgets/tenant/acme", auth=USER, query={"includeDeleted": "true"})[
        1
    ]
    assert [b["id"] for b in listed["budgets"]] == [budget["id"]]
    assert check(api, budget["id"])[0] == 404
    assert api(
        "check_tenant_enforcement",
        "POST",
        f"{B}/tenants/acme/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "ai_generation"},
    )[1]["allowed"]
    assert "deleted" in event_types(api, budget["id"])
    assert api("delete_budget", "DELETE", path, auth=ADMIN, query={"hard": "true"})[0] == 204
    assert api("get_budget", "GET", path, auth=USER)[0] == 404


def test_ingestion_fires_a_crossed_threshold_without_waiting_for_a_check(stack, api):
    _, budget, _ = create(api)
    spend(api, 81)
    assert event_types(api, budget["id"]) == ["threshold_notify", "created"]
    assert events(api, budget["id"])["events"][0]["source"] == "realtime"


def test_status_reflects_spend_as_soon_as_it_is_ingested(stack, api):
    _, budget, _ = create(api)
    spend(api, 30)
    spend(api, 1000, category="COMPUTE")  # not covered by this AI budget
    status, body, _ = api("get_budget_status", "GET", f"{B}/budgets/{budget['id']}/status", auth=USER)
    assert status == 200
    assert (body["spent"], body["remaining"], body["percentUsed"], body["state"]) == (30, 70, 30, "ok")
    assert body["periodStart"] == str(today().replace(day=1))
    assert body["activeActions"] == []
    assert body["spendAsOf"]
    spend(api, 55)
    _, statuses, _ = api("list_tenant_budget_statuses", "GET", f"{B}/budgets/tenant/acme/status", auth=USER)
    assert [(s["spent"], s["state"], s["activeActions"]) for s in statuses["statuses"]] == [
        (85, "notified", ["notify"])
    ]


def test_seed_scenario_notify_once_then_block_ai_but_not_exports_until_block_export(stack, api):
    # Given a budget over all categories: notify at 80%, enforce at 100% by blocking AI
    _, budget, _ = create(api, categories=[])
    bid = budget["id"]
    # When spend reaches 80%, one notification event fires, and only one however often we look
    spend(api, 82)
    assert check(api, bid)[1]["action"] == "allow"
    spend(api, 3)
    check(api, bid)
    assert event_types(api, bid).count("threshold_notify") == 1
    # When spend reaches 100%, AI generation is blocked while exports are still allowed
    spend(api, 20)
    status, decision, _ = check(api, bid)
    assert status == 200
    assert decision | {"reason": ""} == {
        "allowed": False,
        "action": "block",
        "rateLimitFactor": None,
        "reason": "",
        "budgetId": bid,
        "percentUsed": 105.0,
        "degraded": False,
    }
    assert check(api, bid, operation="export")[1]["allowed"] is True
    types = event_types(api, bid)
    assert types.count("threshold_notify") == 1 and types.count("threshold_enforce") == 1
    # With block_export, exports are blocked too
    policy = {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai", "block_export"]}
    status, _, _ = api(
        "update_budget", "PATCH", f"{B}/budgets/{bid}", auth=ADMIN, body={"policy": policy, "version": 1}
    )
    assert status == 200
    assert check(api, bid, operation="export")[1]["action"] == "block"


def test_block_export_blocks_exports_of_a_budget_covering_them(stack, api):
    _, budget, _ = create(
        api,
        categories=[],
        policy={"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["block_ai", "block_export"]},
    )
    spend(api, 120, category="EXPORT")
    assert check(api, budget["id"], "export")[1]["action"] == "block"
    assert check(api, budget["id"], "ai_generation")[1]["action"] == "block"
    assert check(api, budget["id"], "compute")[1]["action"] == "allow"


def test_rate_limit_is_allowed_with_its_factor(stack, api):
    _, budget, _ = create(
        api, policy={"notifyThreshold": 50, "enforceThreshold": 90, "actions": ["rate_limit"], "rateLimitFactor": 0.25}
    )
    spend(api, 95)
    assert check(api, budget["id"])[1] | {"reason": ""} == {
        "allowed": True,
        "action": "rate_limit",
        "rateLimitFactor": 0.25,
        "reason": "",
        "budgetId": budget["id"],
        "percentUsed": 95.0,
        "degraded": False,
    }


def test_an_operation_that_would_cross_the_enforce_threshold_is_treated_as_past_it(stack, api):
    _, budget, _ = create(api)
    spend(api, 95)
    assert check(api, budget["id"], estimate=4)[1]["allowed"] is True
    decision = check(api, budget["id"], estimate=2)[1]  # 95 + 4 (in flight) + 2 > 100
    assert decision["action"] == "block" and decision["percentUsed"] == 101.0


def test_a_burst_of_concurrent_checks_cannot_run_past_the_threshold(stack, api, clickhouse):
    _, budget, _ = create(api)
    spend(api, 90)
    allowed = []
    lock = threading.Lock()

    def one_check():
        connection = postgres_db.connect()
        try:
            service = Budgets(conn=connection, spend_reader=SpendReader(clickhouse))
            from finops.auth import principal_from_claims
            from finops.budgets.models import EnforcementCheck

            decision = check_budget(
                service,
                principal_from_claims(SYSTEM),
                budget["id"],
                EnforcementCheck(operationType="ai_generation", estimatedCostUsd=Decimal(3)),
            )
            with lock:
                allowed.append(decision.allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 90 spent: at most three checks of $3 fit under $100 (90 + 9 = 99; a fourth would be 102)
    assert allowed.count(True) == 3 and len(allowed) == 8


def test_tenant_check_returns_the_strictest_answer_of_the_covering_budgets(stack, api):
    create(
        api,
        name="ai",
        policy={"notifyThreshold": 50, "enforceThreshold": 60, "actions": ["rate_limit"], "rateLimitFactor": 0.5},
    )
    _, strict, _ = create(
        api,
        name="ai strict",
        amount=50,
        policy={"notifyThreshold": 50, "enforceThreshold": 100, "actions": ["block_ai"]},
    )
    create(
        api,
        name="exports",
        categories=["EXPORT"],
        amount=1,
        policy={"notifyThreshold": 50, "enforceThreshold": 100, "actions": ["block_export"]},
    )
    spend(api, 65)
    status, decision, _ = api(
        "check_tenant_enforcement",
        "POST",
        f"{B}/tenants/acme/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "ai_generation"},
    )
    assert status == 200
    assert decision["action"] == "block" and decision["budgetId"] == strict["id"]
    _, decision, _ = api(
        "check_tenant_enforcement",
        "POST",
        f"{B}/tenants/acme/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "export"},
    )
    assert decision["action"] == "allow"  # the export budget has no export spend yet
    _, decision, _ = api(
        "check_tenant_enforcement",
        "POST",
        f"{B}/tenants/globex/check-enforcement",
        auth=SYSTEM,
        body={"operationType": "export"},
    )
    assert decision["allowed"] and decision["budgetId"] is None


def test_raising_the_amount_lifts_enforcement_and_crossing_again_fires_again(stack, api):
    _, budget, _ = create(api)
    bid = budget["id"]
    spend(api, 110)
    assert check(api, bid)[1]["action"] == "block"
    status, updated, _ = api(
        "update_budget", "PATCH", f"{B}/budgets/{bid}", auth=ADMIN, body={"amount": 200, "version": 1}
    )
    assert status == 200
    assert check(api, bid)[1]["action"] == "allow"
    assert "enforcement_lifted" in event_types(api, bid)
    spend(api, 100)  # 210 of 200
    assert check(api, bid)[1]["action"] == "block"
    types = event_types(api, bid)
    assert types.count("threshold_enforce") == 2 and types.count("threshold_notify") == 2


def test_a_policy_given_without_an_enforce_threshold_clears_it_and_lifts_enforcement(stack, api):
    _, budget, _ = create(api)  # enforce at 100%, block_ai
    bid = budget["id"]
    spend(api, 110)
    assert check(api, bid)[1]["action"] == "block"
    policy = {"notifyThreshold": 80, "actions": ["notify"]}
    status, updated, _ = api(
        "update_budget", "PATCH", f"{B}/budgets/{bid}", auth=ADMIN, body={"policy": policy, "version": 1}
    )
    assert status == 200
    assert updated["policy"]["enforceThreshold"] is None and updated["policy"]["actions"] == ["notify"]
    assert check(api, bid)[1]["action"] == "allow"
    assert "enforcement_lifted" in event_types(api, bid)


def test_period_rollover_is_recorded_and_lifts_enforcement(stack, api, postgres):
    _, budget, _ = create(api, period="daily", startDate=str(days_ago(3)))
    bid = budget["id"]
    spend(api, 150, day=days_ago(1))
    # Given the budget was enforced yesterday
    postgres.run(
        "UPDATE finops_budgets SET state = 'enforced', period_start = :d WHERE id = :id", d=days_ago(1), id=bid
    )
    # When today's first check runs
    assert check(api, bid)[1]["action"] == "allow"
    types = event_types(api, bid)
    assert "period_rollover" in types and "enforcement_lifted" in types


def test_audit_trail_is_newest_first_and_paged(stack, api):
    _, budget, _ = create(api)
    bid = budget["id"]
    for version in range(1, 6):
        api(
            "update_budget",
            "PATCH",
            f"{B}/budgets/{bid}",
            auth=ADMIN,
            body={"amount": 100 + version, "version": version},
        )
    first = events(api, bid, limit="4")
    assert len(first["events"]) == 4 and first["nextCursor"]
    second = events(api, bid, limit="4", cursor=first["nextCursor"])
    assert [e["eventType"] for e in second["events"]] == ["updated", "created"]
    assert second["nextCursor"] is None
    stamps = [e["createdAt"] for e in first["events"] + second["events"]]
    assert stamps == sorted(stamps, reverse=True)
    assert first["events"][0]["details"]["amount"] == {"from": "104.000000", "to": "105"}
    status, body, _ = api(
        "list_budget_events", "GET", f"{B}/budgets/{bid}/events", auth=USER, query={"cursor": "nonsense"}
    )
    assert status == 422 and body["errors"][0]["loc"][-1] == "cursor"
    # A forged cursor at the calendar's edge (year 1 at +14:00 is before year 1 in UTC) is refused, not a 500.
    edge = base64.urlsafe_b64encode(f"0001-01-01T00:00:00+14:00|{bid}".encode()).decode()
    status, body, _ = api("list_budget_events", "GET", f"{B}/budgets/{bid}/events", auth=USER, query={"cursor": edge})
    assert status == 422 and body["errors"][0]["loc"][-1] == "cursor"


def test_daily_check_refreshes_fires_snapshots_and_is_safe_twice(stack, api, postgres, monkeypatch):

    # Spend ingested before the budgets exist: only the daily check can notice it
    spend(api, 90)
    spend(api, 10, tenant="globex")
    _, a, _ = create(api, name="a")
    _, b, _ = create(api, name="b", tenantId="globex", auth=claims("globex", "admin"))
    first = run_scheduled("run_daily_budget_check", 2)
    assert first == {"budgets": 2, "events": 1, "failed": []}
    second = run_scheduled("run_daily_budget_check", 2)
    assert second["events"] == 0
    rows = postgres.run("SELECT budget_id::text, spent FROM finops_budget_spend_history ORDER BY spent")
    assert rows == [[b["id"], Decimal("10.000000")], [a["id"], Decimal("90.000000")]]
    assert event_types(api, a["id"]).count("threshold_notify") == 1


def test_daily_check_writes_in_batches_without_falling_back(stack, api, postgres, monkeypatch):
    def no_fallback(*args, **kwargs):
        raise AssertionError("the batched daily check fell back to budget-by-budget")

    monkeypatch.setattr(job, "_one_by_one", no_fallback)
    spend(api, 90)
    spend(api, 130, tenant="globex")
    _, a, _ = create(api, name="a")
    _, b, _ = create(api, name="b", tenantId="globex", auth=claims("globex", "admin"))
    first = run_scheduled("run_daily_budget_check", 2)
    assert first == {"budgets": 2, "events": 3, "failed": []}
    assert event_types(api, a["id"]).count("threshold_notify") == 1
    globex_events = events(api, b["id"], auth=claims("globex", "user"), limit="100")["events"]
    assert sorted(e["eventType"] for e in globex_events) == ["created", "threshold_enforce", "threshold_notify"]
    outbox = postgres.run(
        "SELECT budget_id::text, event_type FROM finops_notification_outbox WHERE kind = 'message' ORDER BY 1, 2"
    )
    assert sorted(map(tuple, outbox)) == sorted(
        [(a["id"], "threshold_notify"), (b["id"], "threshold_enforce"), (b["id"], "threshold_notify")]
    )
    states = dict(postgres.run("SELECT id::text, state FROM finops_budgets"))
    assert states == {a["id"]: "notified", b["id"]: "enforced"}
    assert run_scheduled("run_daily_budget_check", 2)["events"] == 0
    snapshots = postgres.run("SELECT budget_id::text, spent FROM finops_budget_spend_history ORDER BY spent")
    assert snapshots == [[a["id"], Decimal("90.000000")], [b["id"], Decimal("130.000000")]]


def test_daily_check_locks_each_chunk_and_sees_changes_made_since_it_read_the_budgets(stack, api, postgres):
    from finops.budgets import store

    _, kept, _ = create(api, name="kept")
    _, changed, _ = create(api, name="changed")
    _, dropped, _ = create(api, name="dropped")
    _, gone, _ = create(api, name="gone")
    read_before = {b.id: b for b in store.live_budgets(postgres)}
    spend(api, 90)  # evaluated right after ingestion: state and spend saved without a new version
    assert (
        api("update_budget", "PATCH", f"{B}/budgets/{changed['id']}", auth=ADMIN, body={"amount": 500, "version": 1})[0]
        == 200
    )
    assert api("delete_budget", "DELETE", f"{B}/budgets/{dropped['id']}", auth=ADMIN)[0] == 204
    assert api("delete_budget", "DELETE", f"{B}/budgets/{gone['id']}", auth=ADMIN, query={"hard": "true"})[0] == 204
    with postgres_db.transaction(postgres):
        locked = store.lock_budgets(postgres, list(read_before.values()))
    assert set(locked) == {kept["id"], changed["id"], dropped["id"]}
    assert read_before[kept["id"]].state == "ok"
    assert locked[kept["id"]] == store.get_budget(postgres, kept["id"])
    assert locked[kept["id"]].state == "notified" and locked[kept["id"]].spent == 90
    assert locked[changed["id"]].amount == 500 and locked[changed["id"]].version == 2
    assert locked[dropped["id"]].deleted_at is not None


def test_daily_check_failure_on_one_budget_does_not_stop_the_others(stack, api, postgres, monkeypatch):
    from finops.budgets import store
    from finops.budgets.wiring import budgets

    spend(api, 90)
    _, broken, _ = create(api, name="broken")
    _, fine, _ = create(api, name="fine")
    real_batch = store.upsert_spend_snapshots

    def failing_batch(conn, snapshots, **kwargs):
        if any(s.budget.id == broken["id"] for s in snapshots):
            raise RuntimeError("disk full")
        return real_batch(conn, snapshots, **kwargs)

    # The chunk's batched write fails, so the chunk is redone budget by budget, where only `broken` fails.
    monkeypatch.setattr(store, "upsert_spend_snapshots", failing_batch)
    report = job.daily_check(budgets(cached_spend=False))
    assert report.failed == [broken["id"]]
    snapshots = postgres.run("SELECT budget_id::text FROM finops_budget_spend_history")
    assert snapshots == [[fine["id"]]]
    assert event_types(api, broken["id"]).count("threshold_notify") == 0  # rolled back with its savepoint


def test_enforcement_hot_path_reuses_spend_for_a_few_seconds_only(stack, api, clickhouse):
    from finops.budgets import store
    from finops.budgets.spend import SpendReader

    _, budget, _ = create(api)
    record = store.get_budget(postgres_db.get_connection(), budget["id"])
    spend(api, 10)
    reader = SpendReader(clickhouse, max_age_seconds=3600)
    assert reader.spend([record], today())[record.id].amount == 10
    spend(api, 20)
    assert reader.spend([record], today())[record.id].amount == 10  # cached
    assert SpendReader(clickhouse, max_age_seconds=0).spend([record], today())[record.id].amount == 30
    reader.forget()
    assert reader.spend([record], today())[record.id].amount == 30


def test_a_check_with_stale_cached_spend_answers_from_the_newer_evaluation(stack, api, clickhouse):
    """Ingestion re-evaluates the budget (in another container, in production); a check whose cached spend is
    older must not answer from it, nor record a spurious `enforcement_lifted`."""
    from finops.auth import principal_from_claims
    from finops.budgets.models import EnforcementCheck

    _, budget, _ = create(api)
    spend(api, 50)
    service = Budgets(conn=postgres_db.get_connection(), spend_reader=SpendReader(clickhouse, max_age_seconds=3600))
    ai = EnforcementCheck(operationType="ai_generation")
    assert check_budget(service, principal_from_claims(SYSTEM), budget["id"], ai).action == "allow"  # caches 50
    spend(api, 60)  # evaluated right after ingestion: 110 of 100, enforced
    assert check_budget(service, principal_from_claims(SYSTEM), budget["id"], ai).action == "block"
    assert "enforcement_lifted" not in event_types(api, budget["id"])
    assert event_types(api, budget["id"]).count("threshold_enforce") == 1


def test_spend_of_budgets_with_different_periods_and_start_dates(stack, api, clickhouse):
    """Each budget sums its own period, however many different periods and start dates a query covers."""
    from finops.budgets import store
    from finops.budgets.spend import current_period

    amounts = {0: 1, 1: 2, 3: 4, 10: 8, 40: 16, 100: 32}
    for back, amount in amounts.items():
        spend(api, amount, day=days_ago(back))
    spend(api, 64, tenant="globex")
    specs = [
        ("daily", today()),
        ("monthly", today().replace(day=1)),
        ("quarterly", days_ago(1)),
        ("annual", today().replace(month=1, day=1)),
        ("annual", days_ago(3)),
        ("monthly", days_ago(200)),
    ]
    for i, (period, start) in enumerate(specs):
        create(api, name=f"b{i}", period=period, startDate=str(start))
    create(api, name="globex", tenantId="globex", auth=claims("globex", "admin"))
    budgets = store.live_budgets(postgres_db.get_connection())
    result = SpendReader(clickhouse).spend(budgets, today())
    for budget in budgets:
        period = current_period(budget, today())
        if budget.tenant_id == "globex":
            expected = Decimal(64)
        else:
            expected = Decimal(sum(a for back, a in amounts.items() if period.start <= days_ago(back) <= today()))
        assert result[budget.id].amount == expected, (budget.period, budget.start_date)
        assert result[budget.id].period == period
    # The daily check's one read: the same spend, and each tenant's daily spend per category since the day asked
    spend_too, daily = SpendReader(clickhouse).spend_and_daily(budgets, today(), daily_since=days_ago(90))
    assert {k: (v.amount, v.period) for k, v in spend_too.items()} == {
        k: (v.amount, v.period) for k, v in result.items()
    }
    assert daily == {
        ("acme", "AI"): {days_ago(back): Decimal(amount) for back, amount in amounts.items() if back <= 90},
        ("globex", "AI"): {today(): Decimal(64)},
    }


def test_budget_filters_by_model_region_and_service(stack, api):
    _, budget, _ = create(api, categories=[], models=["gpt-4o"], regions=["us-east-1"], services=["chat"])
    for model, region, service in [
        ("gpt-4o", "us-east-1", "chat"),
        ("gpt-4o", "eu-west-1", "chat"),
        ("o3", "us-east-1", "chat"),
        ("gpt-4o", "us-east-1", "batch"),
    ]:
        status, body, _ = api(
            "ingest_telemetry",
            "POST",
            TELEMETRY,
            auth=SYSTEM,
            body={"events": [event("acme", today(), "AI", model=model, region=region, service=service, costUsd="10")]},
        )
        assert body["accepted"] == 1
    status, body, _ = api("get_budget_status", "GET", f"{B}/budgets/{budget['id']}/status", auth=USER)
    assert body["spent"] == 10


def test_budget_not_started_yet_counts_nothing_and_allows(stack, api):
    _, budget, _ = create(api, startDate=str(today() + timedelta(days=10)))
    spend(api, 500)
    status, body, _ = api("get_budget_status", "GET", f"{B}/budgets/{budget['id']}/status", auth=USER)
    assert (body["spent"], body["state"]) == (0, "ok")
    assert check(api, budget["id"])[1]["allowed"]


def test_daily_check_warns_once_when_the_forecast_exceeds_the_budget(stack, api, postgres):
    from finops.budgets.wiring import budgets as service

    # Given $10 a day for 60 days, and a monthly budget of $250 checked on a day with a week or more left
    check_day = today().replace(day=1) - timedelta(days=10)
    events = [event("acme", check_day - timedelta(days=n), "AI", costUsd="10") for n in range(60)]
    status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=SYSTEM, body={"events": events})
    assert body["accepted"] == 60
    _, budget, _ = create(api, amount=250, startDate=str(check_day.replace(day=1) - timedelta(days=40)))
    # When the daily check runs (twice)
    job.daily_check(service(cached_spend=False), today=check_day)
    job.daily_check(service(cached_spend=False), today=check_day)
    # Then one forecast_exceeds event says when and how likely
    found = [e for e in events_of(api, budget["id"]) if e["eventType"] == "forecast_exceeds"]
    assert len(found) == 1
    spent_so_far = 10 * check_day.day
    days_left = (check_day.replace(day=28) + timedelta(days=4)).replace(day=1) - check_day
    expected = float(found[0]["details"]["expectedSpend"])
    assert expected == pytest.approx(spent_so_far - 10 + 10 * days_left.days, rel=0.1)
    assert found[0]["details"]["probability"] > 0.9
    breach = found[0]["details"]["breachDate"]
    assert breach == str(check_day + timedelta(days=(250 - (spent_so_far - 10)) // 10))
    row = postgres.run(
        "SELECT forecasted_spend, forecast_breach_date FROM finops_budgets WHERE id = :id", id=budget["id"]
    )
    assert float(row[0][0]) == pytest.approx(expected) and str(row[0][1]) == breach


def events_of(api, budget_id):
    return events(api, budget_id, limit="100")["events"]
