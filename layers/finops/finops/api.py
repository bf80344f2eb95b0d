"""The HTTP side shared by every API function: one resolver factory, one error mapping, the caller, and the
documented responses.

Each function declares its route on a Powertools `Router` and builds its resolver with `make_resolver`;
the OpenAPI generator includes the same routers, so the document and the validation never drift apart.
Every error, whoever answers it (the function, or the local server standing in for the gateway), is an RFC 9457
problem: `application/problem+json` with `type`, `title`, `status`, `detail`, and `errors` naming each field and
rule at fault (`ErrorBody`); `document_errors` writes into the OpenAPI document the errors every route can answer,
and a route declares its own extra ones (409, 412, 428...) with `route_responses`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.request import Request
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from clickhouse_connect.driver.client import Client
from pydantic import BaseModel, Field

from finops.auth import Principal, principal_from_claims
from finops.db.clickhouse import lazy_client
from finops.db.faults import as_invalid_request, as_unavailable
from finops.errors import FinOpsError, ServiceUnavailable
from finops.observability import Handler, add_count, instrumented, logger
from finops.settings import Settings, get_settings

API_TITLE = "FinOps Cost Explorer & Budgets API"
API_VERSION = "1.0.0"
JSON = content_types.APPLICATION_JSON
PROBLEM_JSON = "application/problem+json"  # RFC 9457
CSV = "text/csv"
# The problem type of every error: RFC 9457's "about:blank" says the HTTP status is the whole kind of problem, and
# `errors` names each field and rule at fault.
PROBLEM_TYPE = "about:blank"


class JsonApiResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver that takes request bodies of one media type: UTF-8 JSON, or for a route that
    reads a file (a FOCUS import) the file's type, which the handler reads itself.

    Powertools would parse a form or multipart body into fields, and fail with an exception of its own (a 500
    here) on any other media type or on a body that is not UTF-8; such a request is refused before anything
    parses it: 415 for the media type, 422 for the encoding (JSON is UTF-8, RFC 8259).
    """

    def __init__(self, *, body_media_type: str = JSON) -> None:
        super().__init__(enable_validation=True)
        self.body_media_type = body_media_type

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        media_type = _body_media_type(event)
        if media_type is None or (media_type == self.body_media_type != JSON):
            return super().resolve(event, context)
        if media_type != self.body_media_type:
            return _refusal(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                {
                    "loc": ["header", "content-type"],
                    "type": "unsupported_media_type",
                    "msg": f"the body must be sent with Content-Type: {self.body_media_type}",
                },
            )
        if event.get("isBase64Encoded") and not _is_utf8(str(event.get("body") or "")):
            return _refusal(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                {"loc": ["body"], "type": "json_invalid", "msg": "the body is not UTF-8 encoded JSON"},
            )
        # Media types are case-insensitive; Powertools matches the lower-case form only.
        headers = {
            name: value for name, value in (event.get("headers") or {}).items() if name.lower() != "content-type"
        }
        return super().resolve({**event, "headers": {**headers, "content-type": JSON}}, context)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _body_media_type(event: Mapping[str, Any]) -> str | None:
    """The media type of a request that carries (or declares) a body, lower case without parameters; "" for a
    body without a Content-Type; None for a request without a body (a GET, a DELETE, an empty POST)."""
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    if method not in _BODY_METHODS:
        return None
    content_type = next(
        (str(value) for name, value in (event.get("headers") or {}).items() if name.lower() == "content-type"), None
    )
    if content_type is None:
        return "" if event.get("body") else None
    return content_type.split(";", 1)[0].strip().lower()


def _is_utf8(encoded_body: str) -> bool:
    try:
        base64.b64decode(encoded_body).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return False
    return True


def _refusal(status: HTTPStatus, error: dict[str, Any]) -> dict[str, Any]:
    """A reply, in the Lambda proxy format, to a request refused before routing."""
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": json.dumps(problem(status, [error])),
        "isBase64Encoded": False,
    }


def make_resolver(router: Router, *, body_media_type: str = JSON) -> APIGatewayHttpResolver:
    for handler in router._routes.values():  # the functions the router's decorators registered
        _evaluate_annotations(handler)
    app = JsonApiResolver(body_media_type=body_media_type)
    app.use([_reject_unknown_query_parameters])
    app.include_router(router)
    app.exception_handler(FinOpsError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(Exception)(_unexpected_error)
    return app


def _evaluate_annotations(function: Callable[..., Any]) -> None:
    """Evaluate a handler's annotations, and its dependencies', once at cold start.

    At every request Powertools' Depends() reads the type hints of the handler and of each dependency
    (`typing.get_type_hints`), which compiles and evaluates each annotation that `from __future__ import
    annotations` left as a string: 12 compilations per enforcement check, about a tenth of its warm time. Hints
    that are already evaluated are read as they are, with the same meaning."""
    hints = get_type_hints(function, include_extras=True)
    function.__annotations__ = hints
    for hint in hints.values():
        if get_origin(hint) is Annotated:
            for extra in get_args(hint)[1:]:
                if isinstance(extra, Depends):
                    _evaluate_annotations(extra.dependency)


def api_handler(app: APIGatewayHttpResolver) -> Handler:
    """The Lambda entry point of an API function: its resolver, with the logging and metrics every handler has."""

    @instrumented()
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler


def caller(request: Request) -> Principal:
    """The caller of the request being handled (401 without claims, 403 without a usable role)."""
    event = request.resolved_event
    assert isinstance(event, APIGatewayProxyEventV2)
    return _principal_of(event)


def _principal_of(event: APIGatewayProxyEventV2) -> Principal:
    principal = principal_from_claims(event.request_context.authorizer.jwt_claim)
    logger.append_keys(tenant_id=principal.tenant_id, roles=sorted(r.value for r in principal.roles))
    return principal


# A handler's parameter `principal: Caller` receives the caller (tests swap `caller` in `app.dependency_overrides`).
Caller = Annotated[Principal, Depends(caller)]
# A handler's parameter `settings: ServiceSettings` receives the container's settings (tests swap `get_settings`).
# Here, not in settings.py: Depends comes with Powertools' event_handler package, which scheduled functions skip.
ServiceSettings = Annotated[Settings, Depends(get_settings)]
# A handler's parameter `client: ClickHouse` receives the container's ClickHouse client, connected on first use (after
# the handler checked the caller); tests swap `lazy_client`.
ClickHouse = Annotated[Client, Depends(lazy_client)]


def model_response(model: BaseModel, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON reply of a model with headers of its own (ETag, Location): Powertools validates and writes the model
    against the route's return type, as for a model returned bare."""
    return Response(status_code=status, content_type=JSON, body=model, headers=headers or {})


def problem(status: int, errors: list[dict[str, Any]], detail: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem: `detail` says what went wrong in words (by default each error's location and message),
    `errors` names each field and rule at fault (empty when no field is)."""
    said = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" if e.get("loc") else str(e["msg"]) for e in errors
    )
    return {
        "type": PROBLEM_TYPE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or said or HTTPStatus(status).description,
        "errors": [e for e in errors if e.get("loc")],
    }


def _problem(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


def _domain_error(error: FinOpsError) -> Response:
    if error.field or error.status_code == HTTPStatus.UNPROCESSABLE_ENTITY:
        # A 422 always says where: the field at fault, or the part of the request (`query`) as a whole.
        loc = [error.location] if error.field in (None, error.location) else [error.location, error.field]
        errors = [{"loc": loc, "type": _RULES.get(error.status_code, "invalid"), "msg": error.message}]
    else:
        errors = [{"msg": error.message}]
    response = _problem(error.status_code, problem(error.status_code, errors))
    if isinstance(error, ServiceUnavailable):
        logger.warning("dependency unavailable", extra={"dependency": error.dependency})
        add_count("DependencyUnavailable", 1)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def _validation_error(error: RequestValidationError) -> Response:
    # Name the field and the rule; never echo the input back (it may be large or sensitive).
    errors = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in error.errors()]
    return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, problem(HTTPStatus.UNPROCESSABLE_ENTITY, errors))


def _unexpected_error(error: Exception) -> Response:
    if (unavailable := as_unavailable(error)) is not None:
        logger.info("dependency failure", exc_info=error)
        return _domain_error(unavailable)
    if (refused := as_invalid_request(error)) is not None:
        return _domain_error(refused)
    logger.exception("unhandled error")
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return _problem(
        status, problem(status, [{"msg": "internal error; see the logs for this request's correlation id"}])
    )


# The `type` of a domain error that names a field, by status.
_RULES: dict[int, str] = {
    HTTPStatus.UNPROCESSABLE_ENTITY: "invalid_request",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "too_large",
    HTTPStatus.PRECONDITION_FAILED: "stale_version",
    HTTPStatus.PRECONDITION_REQUIRED: "missing_version",
}


def _reject_unknown_query_parameters(app: APIGatewayHttpResolver, next_middleware: Callable[..., Response]) -> Response:
    """A misspelt parameter (`groupby=model`) must not be silently ignored: answer 422 naming it."""
    route = app.context.get("_route")
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        known = {field.alias for field in dependant.query_params}
        given = set((app.current_event.query_string_parameters or {}).keys())
        unknown = sorted(given - known)
        if unknown:
            errors = [
                {
                    "loc": ["query", name],
                    "type": "unknown_parameter",
                    "msg": f"unknown query parameter; expected one of {sorted(known)}",
                }
                for name in unknown
            ]
            return _problem(HTTPStatus.UNPROCESSABLE_ENTITY, problem(HTTPStatus.UNPROCESSABLE_ENTITY, errors))
    return next_middleware(app)


# --- the documented responses -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is: query, path, header or body, and the field")
    type: str = Field(description="The rule broken, e.g. missing, greater_than_equal, unknown_parameter")
    msg: str


class ErrorBody(BaseModel):
    """The body of every error answer: an RFC 9457 problem (`application/problem+json`)."""

    type: str = Field(description="A URI naming the kind of problem; about:blank: the HTTP status says it")
    title: str = Field(description="The HTTP status's phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, in words")
    errors: list[ErrorDetail] = Field(description="Each field and rule at fault (empty when no field is)")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be read",
    401: "No bearer token, or an invalid or expired one",
    403: "The caller's role or tenant may not do this",
    404: "No such resource, or one the caller may not see",
    409: "Conflicts with the stored state (a live budget of the tenant already has this name)",
    412: "The version given (If-Match or `version`) is not the current one",
    413: "The body is larger than 10 MB",
    415: "The body is not of the route's media type (application/json; text/csv for a FOCUS import)",
    422: "A parameter or field breaks a rule: `errors` names each one, with its location and the rule",
    428: "The current version is required (If-Match header or `version` field)",
    503: "A database is slow or unavailable: nothing was changed; retry after `Retry-After` seconds",
}
# Every route: the token is checked, the role and tenant too, parameters are validated, and a database is read.
EVERY_ROUTE_ERRORS = (401, 403, 422, 503)
# Routes with a body; routes with an id in the path add 404.
BODY_ERRORS = (413, 415)
PATH_ERRORS = (404,)
ERROR_BODY_REF = "#/components/schemas/ErrorBody"


def error_response(status: int) -> OpenAPIResponse:
    response: OpenAPIResponse = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": ERROR_BODY_REF}}},
    }
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
        }
    return response


ETAG_HEADER = {
    "ETag": {
        "description": 'The budget\'s version, quoted ("3"): send it back as If-Match',
        "schema": {"type": "string"},
    }
}
LOCATION_HEADER = {"Location": {"description": "The path of the budget created", "schema": {"type": "string"}}}


def route_responses(
    *errors: int,
    success: int = 200,
    description: str = "OK",
    content: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> dict[int, OpenAPIResponse]:
    """A route's `responses`: its success (with the return type's schema unless `content` is given, and the headers
    it sets) and the errors it answers beyond those `document_errors` adds to every route."""
    success_response: OpenAPIResponse = {"description": description}
    if content is not None:
        success_response["content"] = content
    if headers is not None:
        success_response["headers"] = headers
    return {success: success_response, **{status: error_response(status) for status in errors}}


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation of an OpenAPI document the errors it can answer, all RFC 9457 problems (`ErrorBody`).

    Every route: 401, 403, 422 (in place of Powertools' own validation schema: ours names the rule too) and 503;
    a route with a body: 413 and 415; with a path parameter: 404. Extras a route declares stay.
    """
    for item in document.get("paths", {}).values():
        for operation in item.values():
            statuses = list(EVERY_ROUTE_ERRORS)
            if "requestBody" in operation:
                statuses += BODY_ERRORS
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                statuses += PATH_ERRORS
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # Powertools' own, with its validation schema
            for status, response in responses.items():  # a route's declared error keeps its words
                if int(status) >= 400:
                    responses[status] = {**error_response(int(status)), "description": response["description"]}
            for status in statuses:
                responses.setdefault(str(status), error_response(status))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # Powertools' 422 body, replaced above
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    return document
