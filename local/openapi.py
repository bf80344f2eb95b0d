"""One OpenAPI 3.1 document for the whole API, generated from the routers the Lambda functions serve.

Every API function declares its route on a Powertools `Router`; including all of them in one resolver gives
a document built from the very pydantic models that validate requests, so the two cannot drift apart.
`python -m local.openapi` prints it; `make openapi` writes it to openapi.json.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server

from local.lambda_runtime import function_names, load_function

LOCAL_SERVER = "http://127.0.0.1:3000"
SECURITY_SCHEME = "bearerAuth"

DESCRIPTION = (
    "Usage telemetry ingestion, rating, daily cost aggregation and the cost explorer of a multi-tenant "
    "platform, FOCUS import and export of cloud bills, and budgets with notify/enforce policies, a real-time "
    "enforcement check and an audit trail. Every operation needs a bearer JWT: API Gateway's JWT authorizer checks "
    "it and passes its claims (`tenant_id`, `roles`: user, admin or system) to the function. Money is in the "
    "currency each reply names (USD unless asked otherwise). Every error is an RFC 9457 problem "
    "(application/problem+json) whose `errors` name each field and rule at fault."
)


def function_routers() -> dict[str, Router]:
    """The `router` of every function that serves HTTP routes (scheduled jobs have none), by function name."""
    routers: dict[str, Router] = {}
    for name in function_names():
        router = getattr(load_function(name), "router", None)
        if isinstance(router, Router):
            routers[name] = router
    return routers


def router_routes(router: Router) -> set[tuple[str, str]]:
    """(METHOD, path) of each route a router declares, with path parameters written `{name}` as in API Gateway.

    Powertools keeps a router's routes in `_routes`, keyed by a tuple that starts with (rule, methods); it is the
    same structure `include_router` reads, so it is stable enough for the generator and the template tests.
    """
    return {(method.upper(), _PATH_PARAMETER.sub(r"{\1}", key[0])) for key in router._routes for method in key[1]}


# Powertools writes a path parameter `<budget_id>`; API Gateway and OpenAPI write `{budget_id}`.
_PATH_PARAMETER = re.compile(r"<(\w+)>")


def build_openapi() -> dict[str, Any]:
    # Imported here: the layer is importable only once local.lambda_runtime has put it on sys.path.
    from finops.api import API_TITLE, API_VERSION, document_errors

    app = APIGatewayHttpResolver(enable_validation=True)
    for router in function_routers().values():
        app.include_router(router)
    document = app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        servers=[Server(url=LOCAL_SERVER, description="The local server (make run)")],
        security_schemes={
            SECURITY_SCHEME: HTTPBearer(
                bearerFormat="JWT", description="A JWT from the configured issuer (locally: make -s token)"
            )
        },
        security=[{SECURITY_SCHEME: []}],
    )
    result: dict[str, Any] = document_errors(json.loads(document))
    return result


def render(document: dict[str, Any]) -> str:
    """The committed form of the document: stable key order, so a regeneration only shows real changes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    print(render(build_openapi()), end="")


if __name__ == "__main__":
    main()
