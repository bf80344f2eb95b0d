"""Who may do what, route by route and role by role, with the other tenant's ids in the path, the query and
the body (README, "Security model").

Roles: `user` reads its own tenant; `admin` also writes for it (budgets, ingestion, aggregation, acknowledging
anomalies, enforcement checks); `system` acts for any tenant and alone publishes prices and re-prices. A caller
who may not see a resource named by id gets 404 (ids of other tenants tell nothing); one who may see it but not
change it, or who names a tenant it may not act for, gets 403.

The data (two tenants' spend history, one budget, one anomaly) is loaded once for the module; cases that change
something make their own budget first.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.lambda_runtime import ROOT
from tests.conftest import Api, claims, fresh_clickhouse, fresh_postgres
from tests.factories import AGGREGATE, COSTS, TELEMETRY, days_ago, event

ROLES: dict[str, dict[str, Any] | None] = {
    "user": claims("acme", "user"),
    "admin": claims("acme", "admin"),
    "other_user": claims("globex", "user"),
    "other_admin": claims("globex", "admin"),
    "system": claims(None, "system"),
    "anonymous": None,
}
BUDGETS = "/api/ai-budget/finops/budgets"
ANOMALIES = "/v1/analytics/finops/anomalies"
IMPORTS = "/v1/analytics/finops/imports/focus"
EXCHANGE_RATES = "/v1/analytics/finops/exchange-rates"
FOCUS_BILL = (ROOT / "tests" / "data" / "focus_bill.csv").read_text()
RANGE = {"from": str(days_ago(30)), "to": str(days_ago(1))}


@dataclass
class World:
    api: Api
    budget_id: str
    anomaly_id: str
    names: Iterator[int] = field(default_factory=lambda: iter(range(10**6)))

    def new_budget(self) -> str:
        status, body, _ = self.api("create_budget", "POST", BUDGETS, auth=ROLES["system"], body=budget_body(self))
        assert status == 201, body
        return str(body["id"])


def budget_body(world: World, tenant: str = "acme") -> dict[str, Any]:
    return {
        "tenantId": tenant,
        "name": f"budget {next(world.names)}",
        "amount": 1000,
        "period": "monthly",
        "policy": {"notifyThreshold": 80, "enforceThreshold": 100, "actions": ["notify", "block_ai"]},
        "startDate": str(days_ago(40).replace(day=1)),
    }


def history(tenant: str, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = [
        event(tenant, days_ago(n), "AI", model="gpt-4o", costUsd=f"{100 * rng.uniform(0.95, 1.05):.2f}")
        for n in range(120, 0, -1)
    ]
    return [*events, event(tenant, days_ago(5), "AI", model="o3", costUsd="400")] if tenant == "acme" else events


@pytest.fixture(scope="module")
def world(postgres_server: str) -> Iterator[World]:
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        fresh_clickhouse(monkeypatch),
        fresh_postgres(monkeypatch, postgres_server),
    ):
        api = Api()
        events = history("acme", 1) + history("globex", 2)
        status, body, _ = api("ingest_telemetry", "POST", TELEMETRY, auth=ROLES["system"], body={"events": events})
        assert status == 200 and body["accepted"] == len(events), body
        status, anomalies, _ = api(
            "get_anomalies", "GET", ANOMALIES, auth=ROLES["system"], query={"tenantId": "acme", **RANGE}
        )
        assert status == 200 and anomalies["anomalies"], anomalies
        world = World(api=api, budget_id="", anomaly_id=anomalies["anomalies"][0]["id"])
        world.budget_id = world.new_budget()
        yield world


Request = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """A request (built from the world) and the status each role gets; `ok` is the success status."""

    function: str
    request: Request
    allowed: frozenset[str]
    ok: int = 200
    # Status for roles that are not allowed (other than `anonymous`, always 401); per role where it differs.
    denied: int = 403
    denied_by_role: dict[str, int] = field(default_factory=dict)

    def expected(self, role: str) -> int:
        if role == "anonymous":
            return 401
        if role in self.allowed:
            return self.ok
        return self.denied_by_role.get(role, self.denied)


READERS = frozenset({"user", "admin", "system"})
WRITERS = frozenset({"admin", "system"})
SYSTEM_ONLY = frozenset({"system"})
# Id routes: a caller of another tenant may not even see the resource.
HIDDEN = {"other_user": 404, "other_admin": 404}


def get(path: str, **query: Any) -> Request:
    return lambda w: {"method": "GET", "path": path.format(w=w), "query": {k: str(v) for k, v in query.items()}}


def post(path: str, body: Callable[[World], Any], **query: Any) -> Request:
    return lambda w: {"method": "POST", "path": path.format(w=w), "body": body(w), "query": query or None}


def csv_post(path: str, **query: str) -> Request:
    """A FOCUS file sent as the body (text/csv)."""
    return lambda w: {
        "method": "POST",
        "path": path,
        "body": FOCUS_BILL,
        "headers": {"content-type": "text/csv"},
        "query": query or None,
    }


def fresh(method: str, path: str, body: Callable[[World], Any] | None = None, **extra: Any) -> Request:
    """A request about a budget made for this case (it may change or delete it)."""

    def build(w: World) -> dict[str, Any]:
        budget_id = w.new_budget()
        return {
            "method": method,
            "path": path.format(id=budget_id),
            "body": body(w) if body else None,
            "path_parameters": {"budget_id": budget_id},
            **extra,
        }

    return build


def ai_event(tenant: str) -> Callable[[World], Any]:
    return lambda w: {"events": [event(tenant, days_ago(1), costUsd="1", eventId=f"authz-{uuid.uuid4()}")]}


ACME = {"tenantId": "acme", **RANGE}
CASES: dict[str, Case] = {
    # Reads, tenant named in the query
    "costs": Case("get_costs", get(COSTS, **ACME), READERS),
    "costs_csv": Case("get_costs", get(COSTS, format="csv", **ACME), READERS),
    "summary": Case("get_cost_summary", get(COSTS + "/summary", **ACME), READERS),
    "top_drivers": Case("get_top_drivers", get(COSTS + "/top-drivers", **ACME), READERS),
    "by_model": Case("get_costs_by_model", get(COSTS + "/by-model", **ACME), READERS),
    "by_region": Case("get_costs_by_region", get(COSTS + "/by-region", **ACME), READERS),
    "by_service": Case("get_costs_by_service", get(COSTS + "/by-service", **ACME), READERS),
    "forecast": Case("get_forecast", get("/v1/analytics/finops/forecast", tenantId="acme"), READERS),
    "anomalies": Case("get_anomalies", get(ANOMALIES, **ACME), READERS),
    "rate_card": Case("get_rate_card", get("/v1/analytics/finops/rate-card"), frozenset(ROLES) - {"anonymous"}),
    # Writes, tenant named in the body
    "ingest": Case("ingest_telemetry", post(TELEMETRY, ai_event("acme")), WRITERS),
    "aggregate": Case(
        "run_aggregation", post(AGGREGATE, lambda w: {"date": str(days_ago(2)), "tenantId": "acme"}), WRITERS
    ),
    "aggregate_all_tenants": Case(
        "run_aggregation", post(AGGREGATE, lambda w: {"date": str(days_ago(2))}), SYSTEM_ONLY
    ),
    "reprice": Case(
        "run_aggregation",
        post(AGGREGATE, lambda w: {"date": str(days_ago(2)), "tenantId": "acme", "reprice": True}),
        SYSTEM_ONLY,
    ),
    "publish_rate_card": Case(
        "publish_rate_card",
        post(
            "/v1/analytics/finops/rate-card",
            lambda w: {
                "effectiveFrom": str(days_ago(-30)),
                "source": "authorization test",
                "prices": [{"meter": "input_tokens", "priceKey": "gpt-4o", "unitPrice": 2.5}],
            },
        ),
        SYSTEM_ONLY,
    ),
    "create_budget": Case("create_budget", post(BUDGETS, budget_body), WRITERS, ok=201),
    # A cloud bill for one tenant (its admin), or for the tenants a column names (system only).
    "import_focus": Case("import_focus", csv_post(IMPORTS, tenantId="acme"), WRITERS),
    "import_focus_all_tenants": Case("import_focus", csv_post(IMPORTS), SYSTEM_ONLY),
    "import_focus_by_tag": Case("import_focus", csv_post(IMPORTS, tenantTag="team"), SYSTEM_ONLY),
    "exchange_rates": Case("get_exchange_rates", get(EXCHANGE_RATES), frozenset(ROLES) - {"anonymous"}),
    "publish_exchange_rates": Case(
        "publish_exchange_rates",
        post(
            EXCHANGE_RATES,
            lambda w: {
                "source": "authorization test",
                "rates": [{"currency": "EUR", "effectiveFrom": str(days_ago(400)), "usdPerUnit": "1.08"}],
            },
        ),
        SYSTEM_ONLY,
    ),
    # Budgets of a tenant, tenant named in the path
    "list_budgets": Case("list_tenant_budgets", get(BUDGETS + "/tenant/acme"), READERS),
    "list_statuses": Case("list_tenant_budget_statuses", get(BUDGETS + "/tenant/acme/status"), READERS),
    "check_tenant": Case(
        "check_tenant_enforcement",
        post("/api/ai-budget/finops/tenants/acme/check-enforcement", lambda w: {"operationType": "ai_generation"}),
        WRITERS,
    ),
    # One budget, by id
    "get_budget": Case("get_budget", get(BUDGETS + "/{w.budget_id}"), READERS, denied_by_role=HIDDEN),
    "budget_status": Case("get_budget_status", get(BUDGETS + "/{w.budget_id}/status"), READERS, denied_by_role=HIDDEN),
    "budget_events": Case("list_budget_events", get(BUDGETS + "/{w.budget_id}/events"), READERS, denied_by_role=HIDDEN),
    "check_budget": Case(
        "check_budget_enforcement",
        post(BUDGETS + "/{w.budget_id}/check-enforcement", lambda w: {"operationType": "ai_generation"}),
        WRITERS,
        denied_by_role=HIDDEN,
    ),
    "update_budget": Case(
        "update_budget",
        fresh("PATCH", BUDGETS + "/{id}", lambda w: {"amount": 2000, "version": 1}),
        WRITERS,
        denied_by_role=HIDDEN,
    ),
    "delete_budget": Case("delete_budget", fresh("DELETE", BUDGETS + "/{id}"), WRITERS, ok=204, denied_by_role=HIDDEN),
    "acknowledge": Case(
        "acknowledge_anomaly",
        post(ANOMALIES + "/{w.anomaly_id}/acknowledge", lambda w: {"note": "checked"}),
        WRITERS,
        denied_by_role=HIDDEN,
    ),
}


def path_parameters(request: dict[str, Any], world: World) -> dict[str, str] | None:
    if "path_parameters" in request:
        return dict(request["path_parameters"])
    if world.budget_id in request["path"]:
        return {"budget_id": world.budget_id}
    if world.anomaly_id in request["path"]:
        return {"anomaly_id": world.anomaly_id}
    if "/tenant/acme" in request["path"] or "/tenants/acme/" in request["path"]:
        return {"tenant_id": "acme"}
    return None


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("case", list(CASES))
def test_route_by_role(world: World, case: str, role: str) -> None:
    spec = CASES[case]
    request = spec.request(world)
    status, body, _ = world.api(
        spec.function,
        request["method"],
        request["path"],
        auth=ROLES[role],
        query=request.get("query"),
        body=request.get("body"),
        path_parameters=path_parameters(request, world),
        headers=request.get("headers"),
    )
    assert status == spec.expected(role), (case, role, body)
    if status in (403, 404):
        assert "globex" not in str(body) and "acme" not in str(body)  # a refusal names no tenant


def test_every_api_function_is_in_the_matrix() -> None:
    from local.sam_template import load_template

    api_functions = {route.function for route in load_template().routes}
    assert api_functions == {case.function for case in CASES.values()}


@pytest.mark.parametrize(
    ("role", "tenant_field"),
    [("admin", "tenantId"), ("admin", "tenant_id"), ("system", "tenant_id")],
)
def test_an_event_naming_its_tenant_by_another_key_is_rejected_not_stored(world: World, role: str, tenant_field: str):
    """Found by the review: `"tenant_id": "globex"` from acme's admin was accepted into globex."""
    foreign = {k: v for k, v in event("globex", days_ago(1), costUsd="7").items() if k != "tenantId"}
    foreign[tenant_field] = "globex"
    status, body, _ = world.api("ingest_telemetry", "POST", TELEMETRY, auth=ROLES[role], body={"events": [foreign]})
    if tenant_field == "tenantId":
        assert status == 403  # acme's admin, globex's event
        return
    assert status == 200 and body["accepted"] == 0, body
    assert body["rejected"][0]["index"] == 0 and "tenant_id" in body["rejected"][0]["error"]
    costs = world.api("get_costs", "GET", COSTS, auth=ROLES["system"], query={"tenantId": "globex", **RANGE})[1]
    assert costs["total"] == pytest.approx(sum(float(e["costUsd"]) for e in history("globex", 2)[-30:]))


@pytest.mark.parametrize(
    ("function", "method", "path", "body", "key"),
    [
        ("create_budget", "POST", BUDGETS, {"tenant_id": "acme"}, "tenant_id"),
        ("run_aggregation", "POST", AGGREGATE, {"date": str(days_ago(2)), "tenant_id": "acme"}, "tenant_id"),
        (
            "check_tenant_enforcement",
            "POST",
            "/api/ai-budget/finops/tenants/acme/check-enforcement",
            {"operation_type": "ai_generation"},
            "operation_type",
        ),
    ],
)
def test_bodies_accept_only_the_documented_names(world: World, function, method, path, body, key):
    if function == "create_budget":
        body = {**budget_body(world), **body}
        del body["tenantId"]
    status, reply, _ = world.api(
        function,
        method,
        path,
        auth=ROLES["system"],
        body=body,
        path_parameters={"tenant_id": "acme"} if "tenants/" in path else None,
    )
    assert status == 422, reply
    assert any(detail["loc"][-1] == key for detail in reply["errors"]), reply
