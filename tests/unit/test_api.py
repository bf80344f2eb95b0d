"""The shared HTTP module: bodies are JSON only (415 otherwise, never a 500), and the documented errors."""

import base64
import json
from typing import Any, get_args, get_origin

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from pydantic import BaseModel, ConfigDict

from finops.api import Caller, ServiceSettings, caller, document_errors, make_resolver, route_responses
from finops.auth import Principal
from finops.settings import Settings, get_settings
from local.lambda_runtime import FUNCTIONS_DIR, LambdaContext, function_names, http_api_event, load_function


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""


router = Router()


@router.post("/notes")
def add_note(note: Note) -> dict[str, str]:
    return {"text": note.text}


app = make_resolver(router)


def post(body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    event = http_api_event("POST", "/notes", body=None if isinstance(body, bytes) else body, headers=headers)
    if isinstance(body, bytes):  # as API Gateway passes a body that is not UTF-8 text
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    reply = app.resolve(event, LambdaContext(function_name="notes"))
    return reply["statusCode"], json.loads(reply["body"])


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
def test_a_body_in_another_media_type_is_a_415_naming_the_header(content_type: str) -> None:
    # text/plain and application/xml used to raise inside Powertools (a 500); a form was parsed into fields
    status, body = post('{"text": "hi"}', {"content-type": content_type})

    assert status == 415
    assert body["status"] == 415 and body["errors"][0]["loc"] == ["header", "content-type"]


def test_a_body_without_content_type_is_a_415() -> None:
    event = http_api_event("POST", "/notes", body={"text": "hi"})
    del event["headers"]["content-type"]

    reply = app.resolve(event, LambdaContext(function_name="notes"))

    assert reply["statusCode"] == 415


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8", "application/json;"])
def test_json_in_any_spelling_of_its_media_type_is_accepted(content_type: str) -> None:
    assert post({"text": "hi"}, {"content-type": content_type}) == (200, {"text": "hi"})


def test_json_that_is_not_utf8_is_a_4xx_not_a_500() -> None:
    status, _ = post(b'{"text": "\xff"}', {"content-type": "application/json"})

    assert 400 <= status < 500


def test_every_operation_documents_the_errors_it_can_answer() -> None:
    document = {
        "paths": {
            "/things/{id}": {
                "patch": {
                    "parameters": [{"in": "path", "name": "id"}],
                    "requestBody": {},
                    "responses": {
                        "200": {"description": "OK"},
                        "412": {"description": "Stale"},
                        "422": {"description": "Validation Error"},
                    },
                }
            },
            "/things": {"get": {"responses": route_responses(409)}},
        }
    }

    document_errors(document)

    patch = document["paths"]["/things/{id}"]["patch"]["responses"]
    get = document["paths"]["/things"]["get"]["responses"]
    assert sorted(patch) == ["200", "401", "403", "404", "412", "413", "415", "422", "503"]
    assert sorted(map(str, get)) == ["200", "401", "403", "409", "422", "503"]
    errors = [r for status, r in [*patch.items(), *get.items()] if int(status) >= 400]
    assert all(
        r["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"} for r in errors
    )
    assert patch["412"]["description"] == "Stale"  # a route's own words stay
    assert "Retry-After" in patch["503"]["headers"]
    schemas = document["components"]["schemas"]
    assert (
        schemas["ErrorBody"]["required"] == ["type", "title", "status", "detail", "errors"] and "ErrorDetail" in schemas
    )


# --- what a handler declares it needs: Depends() ------------------------------------------------------------

needs = Router()


@needs.get("/needs")
def report_needs(principal: Caller, settings: ServiceSettings) -> dict[str, Any]:
    return {"tenant": principal.tenant_id, "maxQueryDays": settings.max_query_days}


needs_app = make_resolver(needs)


def get_needs(claims: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    reply = needs_app.resolve(http_api_event("GET", "/needs", claims=claims), LambdaContext(function_name="needs"))
    return reply["statusCode"], json.loads(reply["body"])


def test_a_handler_receives_the_caller_and_the_settings_it_declares() -> None:
    status, body = get_needs({"tenant_id": "acme", "roles": "[user]"})
    assert (status, body) == (200, {"tenant": "acme", "maxQueryDays": get_settings().max_query_days})


def test_a_request_without_claims_is_a_401_from_the_caller_dependency_not_a_500() -> None:
    # Depends() wraps what a dependency raises; the caller's Unauthorized must still answer as itself.
    status, body = get_needs(None)
    assert (status, body["title"]) == (401, "Unauthorized")


def test_tests_swap_the_caller_and_the_settings_without_touching_module_state() -> None:
    needs_app.dependency_overrides[caller] = lambda: Principal(subject="t", tenant_id="other", roles=frozenset())
    needs_app.dependency_overrides[get_settings] = lambda: Settings(MAX_QUERY_DAYS=7)
    try:
        status, body = get_needs({"tenant_id": "acme", "roles": "[user]"})
    finally:
        needs_app.dependency_overrides.clear()
    assert (status, body) == (200, {"tenant": "other", "maxQueryDays": 7})
    assert get_needs({"tenant_id": "acme", "roles": "[user]"})[1]["tenant"] == "acme"


# --- annotations evaluated once, not at every request ---------------------------------------------------------


@needs.get("/postponed")
def report_postponed(principal: "Caller", settings: "ServiceSettings") -> "dict[str, Any]":
    # Strings, as `from __future__ import annotations` leaves every annotation of the functions' modules.
    return {"tenant": principal.tenant_id}


postponed_app = make_resolver(needs)


def _unevaluated(function: Any) -> list[str]:
    """The annotations of a function and of the dependencies it declares that are still strings."""
    found = [
        f"{function.__qualname__}.{name}" for name, hint in function.__annotations__.items() if isinstance(hint, str)
    ]
    for hint in function.__annotations__.values():
        if get_origin(hint) is not None and get_args(hint) and isinstance(get_args(hint)[-1], Depends):
            found += _unevaluated(get_args(hint)[-1].dependency)
    return found


def test_postponed_annotations_are_evaluated_when_the_resolver_is_made_and_still_resolve() -> None:
    # Powertools' Depends() reads the hints at every request: strings would be compiled and evaluated each time.
    assert _unevaluated(report_postponed) == []
    reply = postponed_app.resolve(
        http_api_event("GET", "/postponed", claims={"tenant_id": "acme", "roles": "[user]"}),
        LambdaContext(function_name="needs"),
    )
    assert (reply["statusCode"], json.loads(reply["body"])) == (200, {"tenant": "acme"})


API_FUNCTIONS = [n for n in function_names() if "make_resolver(" in (FUNCTIONS_DIR / n / "app.py").read_text()]


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_every_api_handler_and_its_dependencies_have_evaluated_annotations(name: str) -> None:
    handlers = list(load_function(name).router._routes.values())
    assert handlers and [u for handler in handlers for u in _unevaluated(handler)] == []
