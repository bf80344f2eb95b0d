"""The HTTP side shared by every API function: one resolver factory, one error mapping, the caller.

Each function declares its route on a Powertools `Router` and builds its resolver with `make_resolver`;
the OpenAPI generator includes the same routers, so the document and the validation never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from finops.auth import Principal, principal_from_claims
from finops.db.faults import as_unavailable
from finops.errors import FinOpsError, ServiceUnavailable
from finops.observability import add_count, logger

API_TITLE = "FinOps Cost Explorer & Budgets API"
API_VERSION = "1.0.0"


def make_resolver(router: Router) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    app.use([_reject_unknown_query_parameters])
    app.include_router(router)
    app.exception_handler(FinOpsError)(_domain_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(Exception)(_unexpected_error)
    return app


def current_principal(app: APIGatewayHttpResolver | Router) -> Principal:
    """The caller of the request being handled (401 without claims, 403 without a usable role)."""
    event = app.current_event
    assert isinstance(event, APIGatewayProxyEventV2)
    principal = principal_from_claims(event.request_context.authorizer.jwt_claim)
    logger.append_keys(tenant_id=principal.tenant_id, roles=sorted(r.value for r in principal.roles))
    return principal


def error_body(status: int, detail: list[dict[str, Any]]) -> dict[str, Any]:
    return {"statusCode": status, "detail": detail}


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _domain_error(error: FinOpsError) -> Response:
    if error.status_code == HTTPStatus.UNPROCESSABLE_ENTITY:
        loc = [error.location, error.field] if error.field else [error.location]
        detail = [{"loc": loc, "type": "invalid_request", "msg": error.message}]
    else:
        detail = [{"msg": error.message}]
    response = _json(error.status_code, error_body(error.status_code, detail))
    if isinstance(error, ServiceUnavailable):
        logger.warning("dependency unavailable", extra={"dependency": error.dependency})
        add_count("DependencyUnavailable", 1)
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def _validation_error(error: RequestValidationError) -> Response:
    # Name the field and the rule; never echo the input back (it may be large or sensitive).
    detail = [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in error.errors()]
    return _json(HTTPStatus.UNPROCESSABLE_ENTITY, error_body(HTTPStatus.UNPROCESSABLE_ENTITY, detail))


def _unexpected_error(error: Exception) -> Response:
    if (unavailable := as_unavailable(error)) is not None:
        logger.info("dependency failure", exc_info=error)
        return _domain_error(unavailable)
    logger.exception("unhandled error")
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    return _json(
        status, error_body(status, [{"msg": "internal error; see the logs for this request's correlation id"}])
    )


def _reject_unknown_query_parameters(app: APIGatewayHttpResolver, next_middleware: Callable[..., Response]) -> Response:
    """A misspelt parameter (`groupby=model`) must not be silently ignored: answer 422 naming it."""
    route = app.context.get("_route")
    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        known = {field.alias for field in dependant.query_params}
        given = set((app.current_event.query_string_parameters or {}).keys())
        unknown = sorted(given - known)
        if unknown:
            detail = [
                {
                    "loc": ["query", name],
                    "type": "unknown_parameter",
                    "msg": f"unknown query parameter; expected one of {sorted(known)}",
                }
                for name in unknown
            ]
            return _json(HTTPStatus.UNPROCESSABLE_ENTITY, error_body(HTTPStatus.UNPROCESSABLE_ENTITY, detail))
    return next_middleware(app)
