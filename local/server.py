"""The local API server: the SAM application served on http://127.0.0.1:$PORT, as API Gateway would serve it.

Routes, handlers, the JWT authorizer and schedules all come from `template.yaml`. For each request the server
does what API Gateway's HTTP API does: check the bearer token (HS256, signed by `make -s token`; 401 when
missing or invalid), match the route (404 / 405), build a payload 2.0 event with the token's claims in
`requestContext.authorizer.jwt.claims`, and call the function's `lambda_handler` in-process.

One invocation runs at a time (a Lambda container serves one request at a time, and the chDB client must not
be shared across threads); connections are accepted on many threads, so a slow call never blocks `/health`.

Local-only endpoints, outside the template: `GET /health`, `GET /openapi.json`, `GET /docs` (Swagger UI,
served offline from Powertools' bundled assets) and `POST /local/invoke/<function>` (used by `make invoke`
because chDB allows one process per data directory): loopback only, and only for a caller holding the local
secret (a `system` token signed with it), so a web page the developer opens cannot make the browser run a job;
an event comes as JSON only. The dashboard's files (`web/`) are served at `/` by local/web.py.

Every answer is JSON, as API Gateway's are: an unknown method (TRACE, PROPFIND...) is routed like any other
(404 or 405), and a request the HTTP parser refuses gets the service's error body, not an HTML page.

Usage: python -m local.server   (make run)
"""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt
from aws_lambda_powertools.event_handler.openapi import swagger_ui

from local.lambda_runtime import LambdaContext, http_api_event, load_function
from local.sam_template import Route, SamTemplate, load_template
from local.scheduler import Schedule, Scheduler
from local.token import data_dir, issue_token, signing_secret, verify_token
from local.web import web_asset

if TYPE_CHECKING:
    from local.stack import Stack

HOST = "127.0.0.1"
DEFAULT_PORT = 3000
INVOKE_PATH = "/local/invoke/"
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
SWAGGER_DIR = Path(swagger_ui.__file__ or "").parent  # Powertools ships the Swagger UI assets
SWAGGER_ASSETS = {
    "/docs/swagger-ui-bundle.min.js": ("swagger-ui-bundle.min.js", "application/javascript"),
    "/docs/swagger-ui.min.css": ("swagger-ui.min.css", "text/css"),
}
JSON = "application/json"
SYSTEM_ROLE = "system"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP APIs' request payload limit


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload, default=str).encode(), {"Content-Type": JSON, **(headers or {})})

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        # The service's own error shape (an RFC 9457 problem), so a client handles gateway and function refusals
        # alike.
        from finops.api import PROBLEM_JSON, problem

        return cls.json(status, problem(status, [], message), {"Content-Type": PROBLEM_JSON, **(headers or {})})


@dataclass
class Request:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes
    source_ip: str


class LocalApi:
    """Routing, authorization and in-process invocation; independent of the HTTP plumbing."""

    def __init__(self, template: SamTemplate, secret: str, *, base_url: str) -> None:
        self.template = template
        self.secret = secret
        self.base_url = base_url
        self.ready = threading.Event()
        self.lock = threading.Lock()  # one invocation at a time, like one Lambda container
        self._openapi: dict[str, Any] | None = None

    # --- invocation ---------------------------------------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        with self.lock:
            module = load_function(function)
            return module.lambda_handler(event, LambdaContext(function_name=function))

    def run_schedule(self, schedule: Schedule, event: dict[str, Any]) -> Any:
        result = self.invoke(schedule.function, event)
        print(f"schedule: {schedule.function} done: {json.dumps(result, default=str)[:500]}", flush=True)
        return result

    # --- dispatch -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        url = urlsplit(request.target)
        path = unquote(url.path)
        if path == "/health" and request.method in ("GET", "HEAD"):
            return Reply.json(200, {"status": "ok"}) if self.ready.is_set() else Reply.json(503, {"status": "starting"})
        if not self.ready.is_set():
            return Reply.error(503, "the local stack is starting; retry in a few seconds", {"Retry-After": "2"})
        if request.method in ("GET", "HEAD") and path == "/openapi.json":
            return Reply.json(200, self.openapi())
        if request.method in ("GET", "HEAD") and (path in ("/docs", "/docs/") or path in SWAGGER_ASSETS):
            return self.docs(path, url.query)
        if path.startswith(INVOKE_PATH):
            return self.manual_invoke(request, path.removeprefix(INVOKE_PATH))
        if request.method in ("GET", "HEAD") and (asset := web_asset(path)) is not None:
            return Reply(200, *asset)  # the dashboard (web/); API paths are never its
        return self.api_route(request, url.path, path, url.query)

    def api_route(self, request: Request, raw_path: str, path: str, raw_query: str) -> Reply:
        matched = [(route, params) for route in self.template.routes if (params := route.match(path)) is not None]
        if not matched:
            return Reply.error(404, "Not Found")
        chosen = next(((r, p) for r, p in matched if r.method == request.method), None) or next(
            ((r, p) for r, p in matched if r.method == "ANY"), None
        )
        if chosen is None:
            allowed = ", ".join(sorted({r.method for r, _ in matched}))
            return Reply.error(405, f"Method Not Allowed; this path accepts {allowed}", {"Allow": allowed})
        route, path_parameters = chosen
        claims: dict[str, Any] | None = None
        if route.auth_required:
            claims_or_refusal = self.authorize(request.headers.get("authorization"))
            if isinstance(claims_or_refusal, Reply):
                return claims_or_refusal
            claims = claims_or_refusal
        event = self.http_event(request, route, raw_path, raw_query, path_parameters, claims)
        try:
            result = self.invoke(route.function, event)
        except Exception:
            # What API Gateway answers when the integration fails; the traceback is the "CloudWatch log".
            print(f"error: {route.function} raised\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            return Reply.json(500, {"message": "Internal Server Error"})
        return lambda_result_to_reply(result)

    def authorize(self, header: str | None) -> dict[str, Any] | Reply:
        """The JWT authorizer: the verified claims, or the 401 API Gateway would answer."""
        if not header:
            return _unauthorized("missing bearer token (Authorization: Bearer <token>; see make -s token)")
        token = header.split(" ", 1)[1].strip() if header.lower().startswith("bearer ") else header.strip()
        try:
            return verify_token(
                token, secret=self.secret, issuer=self.template.jwt.issuer, audience=self.template.jwt.audience
            )
        except jwt.InvalidTokenError as error:
            return _unauthorized(f"invalid token: {error}")

    def http_event(
        self,
        request: Request,
        route: Route,
        raw_path: str,
        raw_query: str,
        path_parameters: dict[str, str],
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value  # repeated keys, as API Gateway joins them
        try:
            body: str | None = request.body.decode() if request.body else None
            encoded = False
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(request.body).decode(), True
        event = http_api_event(
            request.method,
            raw_path,
            route_key=route.route_key,
            query=query,
            body=body,
            claims=_gateway_claims(claims) if claims is not None else None,
            path_parameters={k: unquote(v) for k, v in path_parameters.items()},
        )
        headers = dict(request.headers)
        if cookie := headers.pop("cookie", None):
            event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
        event["headers"] = headers
        event["rawQueryString"] = raw_query
        event["isBase64Encoded"] = encoded
        event["requestContext"]["http"]["sourceIp"] = request.source_ip
        event["requestContext"]["http"]["userAgent"] = headers.get("user-agent", "")
        return event

    def manual_invoke(self, request: Request, name: str) -> Reply:
        if request.source_ip not in LOOPBACK:
            return Reply.error(403, "manual invocation is accepted from this machine only")
        if request.method != "POST":
            return Reply.error(405, "Method Not Allowed; POST an event (or nothing, for a scheduled function)")
        claims = self.authorize(request.headers.get("authorization"))
        if isinstance(claims, Reply):
            return claims
        if SYSTEM_ROLE not in _roles(claims):
            return Reply.error(403, "manual invocation needs a system token (make -s token TENANT= ROLE=system)")
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if request.body.strip() and media_type != JSON:
            return Reply.error(415, "the event must be sent as Content-Type: application/json")
        try:
            function = self.template.function_folder(name)
        except KeyError as error:
            return Reply.error(404, str(error.args[0]))
        if request.body.strip():
            try:
                event = json.loads(request.body)
            except json.JSONDecodeError as error:
                return Reply.error(400, f"the event must be JSON: {error}")
        elif schedule := next((s for s in self.template.schedules if s.function == function), None):
            event = schedule.event(datetime.now(UTC).replace(microsecond=0))
        else:
            return Reply.error(400, f"{function} has no schedule: POST the event to invoke it with as JSON")
        try:
            result = self.invoke(function, event)
        except Exception as error:  # the shape of a Lambda Invoke with a FunctionError
            print(f"error: {function} raised\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            return Reply.json(500, {"errorType": type(error).__name__, "errorMessage": str(error)})
        return Reply.json(200, result)

    # --- OpenAPI and Swagger UI ---------------------------------------------------------------------------

    def openapi(self) -> dict[str, Any]:
        if self._openapi is None:
            with self.lock:  # builds from the same function modules the invocations use
                self._openapi = build_openapi_document(self.template)
        # Point "Try it out" at this server, whatever its port.
        return {**self._openapi, "servers": [{"url": self.base_url, "description": "This local server"}]}

    def docs(self, path: str, query: str) -> Reply:
        if path in SWAGGER_ASSETS:
            name, content_type = SWAGGER_ASSETS[path]
            return Reply(200, (SWAGGER_DIR / name).read_bytes(), {"Content-Type": content_type})
        if "format=json" in query:  # the Swagger UI page links its spec this way
            return Reply.json(200, self.openapi())
        from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

        spec = json.dumps(self.openapi()).replace("</", "<\\/")  # inline in <script>: never close the tag
        html = generate_swagger_html(
            spec,
            "/docs/swagger-ui-bundle.min.js",
            "/docs/swagger-ui.min.css",
            "/docs",
            None,
            persist_authorization=True,
        )
        return Reply(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def build_openapi_document(template: SamTemplate) -> dict[str, Any]:
    """The generated OpenAPI document (local/openapi.py); a bare one from the template if it cannot be built."""
    try:
        from local.openapi import build_openapi

        return build_openapi()
    except Exception:
        print(f"openapi: generation failed, serving the routes only\n{traceback.format_exc()}", file=sys.stderr)
    paths: dict[str, dict[str, Any]] = {}
    for route in template.routes:
        paths.setdefault(route.path, {})[route.method.lower()] = {
            "operationId": route.logical_id,
            "responses": {"200": {"description": "OK"}},
        }
    return {"openapi": "3.1.0", "info": {"title": "FinOps API (routes only)", "version": "0"}, "paths": paths}


def lambda_result_to_reply(result: Any) -> Reply:
    """Map a Lambda's reply to HTTP as API Gateway does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # A bare value is taken as a 200 JSON body.
        return Reply.json(200, result)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    return Reply(int(result["statusCode"]), raw, headers, [str(c) for c in result.get("cookies") or []])


def _gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as HTTP APIs pass them: every value a string, arrays flattened to '[a b]'."""
    return {
        name: "[" + " ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value)
        for name, value in claims.items()
    }


def _roles(claims: dict[str, Any]) -> list[str]:
    from finops.settings import get_settings  # the claim's name is configurable, as in the deployed service

    roles = claims.get(get_settings().roles_claim) or []
    return [str(r) for r in roles] if isinstance(roles, list) else str(roles).split()


def _unauthorized(message: str) -> Reply:
    challenge = f'Bearer error="invalid_token", error_description="{message.replace(chr(34), chr(39))}"'
    return Reply.error(401, message, {"WWW-Authenticate": challenge})


class _HttpHandler(BaseHTTPRequestHandler):
    api: LocalApi  # set on the subclass made by `make_http_server`
    protocol_version = "HTTP/1.1"
    server_version = "finops-local"

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:  # API Gateway refuses these before any function runs
            self.close_connection = True
            self._send(Reply.error(413, f"Request Entity Too Large (limit {MAX_PAYLOAD_BYTES} bytes)"), started)
            return
        request = Request(
            method=self.command,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
            source_ip=self.client_address[0],
        )
        try:
            reply = self.api.handle(request)
        except Exception:
            print(f"error: {traceback.format_exc()}", file=sys.stderr, flush=True)
            reply = Reply.json(500, {"message": "Internal Server Error"})
        self._send(reply, started)

    def _send(self, reply: Reply, started: float) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        for cookie in reply.cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        elapsed = (time.perf_counter() - started) * 1000
        request_line = f"{self.command} {self.path}" if self.command else "(unparsed request)"
        print(f"{request_line} -> {reply.status} ({elapsed:.0f} ms)", file=sys.stderr, flush=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, PROPFIND...) is routed like the rest, as API Gateway does: a JSON
        # 404 or 405, where http.server would answer an HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request the HTTP parser refuses (a bad request line, over-long headers...): the service's JSON
        error body, where http.server would send an HTML page."""
        self.close_connection = True
        self._send(Reply.error(code, message or HTTPStatus(code).phrase), time.perf_counter())

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Logged by `_serve` with the time taken instead."""


def make_http_server(api: LocalApi, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (_HttpHandler,), {"api": api})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True  # an open keep-alive connection must not hold up shutdown
    return server


def _sample_route(template: SamTemplate) -> Route | None:
    """A GET route without path parameters for the ready line, the summary if there is one."""
    candidates = [r for r in template.routes if r.method == "GET" and "{" not in r.path]
    return next((r for r in candidates if r.path.endswith("/summary")), candidates[0] if candidates else None)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    from local.stack import Stack, StackError

    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    template = load_template()
    for name, value in template.environment.items():  # Globals' variables, unless the environment sets them
        os.environ.setdefault(name, value)
    base_url = f"http://{HOST}:{port}"
    api = LocalApi(template, signing_secret(), base_url=base_url)
    try:
        httpd = make_http_server(api, HOST, port)  # bind first: a busy port fails before anything starts
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"port {port} is already in use (another `make run`?); stop it or set PORT=<free port>", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # also when started in the background, where SIGINT is ignored
    stack = Stack.default()
    scheduler: Scheduler | None = None
    serving = False
    started = time.perf_counter()
    try:
        stack.start()
        threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()  # /health says 503
        serving = True
        from finops.db.clickhouse import get_client
        from local.demo_data import ensure_demo_data

        demo = ensure_demo_data(get_client())
        if not demo.loaded_now:
            print(f"demo data: already loaded ({demo.start} .. {demo.end})", flush=True)
        _warm_functions(template, api)
        scheduler = Scheduler(template.schedules, api.run_schedule, log=_log)
        scheduler.start()
        api.ready.set()
        _print_ready(template, stack, base_url, demo.start, demo.end, time.perf_counter() - started)
        threading.Event().wait()  # until Ctrl-C or SIGTERM
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        if serving:
            httpd.shutdown()
        httpd.server_close()
        if scheduler is not None:
            scheduler.stop()
        # Let a running invocation finish before its database goes away.
        locked = api.lock.acquire(timeout=30)
        stack.stop()
        if locked:
            api.lock.release()
    return 0


def _warm_functions(template: SamTemplate, api: LocalApi) -> None:
    """Import every function now (a broken one is reported at start, and first calls are fast)."""
    for function in sorted(set(template.functions.values())):
        try:
            with api.lock:
                load_function(function)
        except Exception:
            print(f"error: functions/{function}/app.py failed to import\n{traceback.format_exc()}", file=sys.stderr)


def _log(message: str) -> None:
    print(message, flush=True)


def _print_ready(template: SamTemplate, stack: Stack, base_url: str, first: Any, last: Any, seconds: float) -> None:
    token = issue_token("demo", ["admin"])
    route = _sample_route(template)
    lines = [
        f"ready in {seconds:.1f} s: FinOps API on {base_url}  (Swagger UI: {base_url}/docs)",
        # The token rides in the URL fragment: the browser keeps it, no request (or log) ever carries it.
        f"  dashboard, signed in as demo's admin: {base_url}/#token={token}",
        f"  data: {data_dir()}",
        *(f"  {line}" for line in stack.describe()),
        f"  demo tenant 'demo': {first} .. {last}",
    ]
    if route is not None:
        url = f"{base_url}{route.path}?tenantId=demo&from={first}&to={last}"
        lines.append(f'  curl -s -H "Authorization: Bearer {token}" "{url}"')
    lines.append("  tokens: make -s token TENANT=demo ROLE=user|admin|system  (dashboard: open /#token=<token>)")
    for schedule in template.schedules:
        lines.append(
            f"  {schedule.function} runs on {schedule.expression}; now: make invoke FUNCTION={schedule.function}"
        )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
