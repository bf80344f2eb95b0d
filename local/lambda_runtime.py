"""Run Lambda handlers in-process the way the Lambda runtime and API Gateway would call them.

Shared by the local server, the OpenAPI generator and the tests, so all three call functions identically.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / "layers" / "finops"

if str(LAYER_DIR) not in sys.path:
    sys.path.insert(0, str(LAYER_DIR))

_loaded: dict[str, ModuleType] = {}


def load_function(name: str) -> ModuleType:
    """Import `functions/<name>/app.py` under a unique module name (every function's file is app.py)."""
    if name not in _loaded:
        path = FUNCTIONS_DIR / name / "app.py"
        if not path.is_file():
            raise FileNotFoundError(f"no handler at {path}")
        spec = importlib.util.spec_from_file_location(f"functions.{name}.app", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that Powertools reads."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _deadline_ms: int = field(default_factory=lambda: int(time.time() * 1000) + 30_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, with JWT claims as the JWT authorizer passes them."""
    raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
    request_id = str(uuid.uuid4())
    all_headers = {"content-type": "application/json", "x-correlation-id": request_id, **(headers or {})}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in all_headers.items()},
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "local",
            },
            "requestId": request_id,
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if query:
        event["queryStringParameters"] = dict(query)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_body is not None:
        event["body"] = raw_body
    return event


def decode_body(response: dict[str, Any]) -> Any:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    content_type = (response.get("headers") or {}).get("Content-Type", "")
    return json.loads(body) if body and "json" in content_type else body
