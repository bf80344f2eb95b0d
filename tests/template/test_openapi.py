"""openapi.json: current, OpenAPI 3.1, and covering exactly the HTTP API's routes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from finops.api import BODY_ERRORS, ERROR_BODY_REF, EVERY_ROUTE_ERRORS, PATH_ERRORS
from local.openapi import SECURITY_SCHEME, build_openapi, render
from tests.template.sam_template import ROOT, http_routes

OPENAPI_PATH = ROOT / "openapi.json"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return build_openapi()


def test_committed_openapi_json_is_current(generated: dict[str, Any]) -> None:
    assert OPENAPI_PATH.is_file(), "openapi.json is missing: run `make openapi`"
    assert OPENAPI_PATH.read_text() == render(generated), "openapi.json is stale: run `make openapi` and commit it"


def test_document_is_openapi_3_1(generated: dict[str, Any]) -> None:
    committed = json.loads(OPENAPI_PATH.read_text())
    assert committed["openapi"].startswith("3.1.")
    assert generated["openapi"].startswith("3.1.")


def test_every_template_route_is_documented_with_its_method(template: dict[str, Any]) -> None:
    paths = json.loads(OPENAPI_PATH.read_text())["paths"]
    for route in http_routes(template):
        assert route.method.lower() in paths.get(route.path, {}), f"{route.method} {route.path} not in openapi.json"


def test_document_has_no_route_the_api_does_not_serve(template: dict[str, Any]) -> None:
    served = {(r.method.lower(), r.path) for r in http_routes(template)}
    documented = {
        (method, path) for path, item in json.loads(OPENAPI_PATH.read_text())["paths"].items() for method in item
    }
    assert documented <= served, f"documented but not routed: {sorted(documented - served)}"


def test_every_operation_requires_a_bearer_jwt() -> None:
    document = json.loads(OPENAPI_PATH.read_text())
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert document["security"] == [{SECURITY_SCHEME: []}]
    assert document["servers"][0]["url"] == "http://127.0.0.1:3000"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    paths = json.loads(OPENAPI_PATH.read_text())["paths"]
    return [(method.upper(), path, operation) for path, item in paths.items() for method, operation in item.items()]


@pytest.mark.parametrize(("method", "path", "operation"), operations(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_operation_documents_each_error_it_can_answer_with_the_error_body(
    method: str, path: str, operation: dict[str, Any]
) -> None:
    expected = set(EVERY_ROUTE_ERRORS)
    if "requestBody" in operation:
        expected |= set(BODY_ERRORS)
    if "{" in path:
        expected |= set(PATH_ERRORS)
    documented = {int(status) for status in operation["responses"]}
    assert expected <= documented, f"{method} {path} does not document {sorted(expected - documented)}"
    for status in documented - {200, 201, 204}:
        schema = operation["responses"][str(status)]["content"]["application/problem+json"]["schema"]
        assert schema == {"$ref": ERROR_BODY_REF}, f"{method} {path} {status}"
    assert any(s < 300 for s in documented), f"{method} {path} documents no success"


def test_routes_document_their_own_statuses_and_media_types() -> None:
    by_route = {(method, path): operation["responses"] for method, path, operation in operations()}
    budget = "/api/ai-budget/finops/budgets"

    assert {"201", "409"} <= set(by_route[("POST", budget)])
    assert {"409", "412", "428"} <= set(by_route[("PATCH", budget + "/{budget_id}")])
    assert "204" in by_route[("DELETE", budget + "/{budget_id}")]
    assert set(by_route[("GET", "/v1/analytics/finops/costs")]["200"]["content"]) == {"application/json", "text/csv"}
