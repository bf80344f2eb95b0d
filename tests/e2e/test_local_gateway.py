"""The local server's reading of a SAM template and its API Gateway behaviour, on a small template of its own.

Nothing is invoked here (no engine starts): these pin the routing, authorizer and event shape that the
over-HTTP tests rely on, including path parameters, which the current template does not use yet.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from local.sam_template import SamTemplate, load_template
from local.server import LocalApi, Request, lambda_result_to_reply

TEMPLATE = """
Parameters:
  JwtIssuer: {Type: String, Default: test-issuer}
  JwtAudience: {Type: String, Default: test-audience}
  Stage: {Type: String, Default: dev}
  Level: {Type: String, Default: DEBUG}
  NoDefault: {Type: String}
Globals:
  Function:
    Handler: app.lambda_handler
    Environment:
      Variables:
        PLAIN: value
        FROM_PARAMETER: !Ref Level
        UNKNOWN: !Ref NoDefault
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: [!Ref JwtAudience]
  GetThingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/get_thing/
      Events:
        One: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: get, Path: "/things/{thingId}"}}
        Latest: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /things/latest}}
  PingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/ping
      Events:
        Ping: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /ping, Auth: {Authorizer: NONE}}}
  NightlyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/nightly/
      Events:
        Nightly:
          Type: Schedule
          Properties: {Name: !Sub "app-${Stage}-nightly", Schedule: "cron(0 2 * * ? *)"}
        Off:
          Type: Schedule
          Properties: {Schedule: rate(1 hour), Enabled: false}
  # A loop of AWS::LanguageExtensions (a list, not a resource): the reader passes over it.
  Fn::ForEach::Logs:
    - Name
    - [GetThingFunction, NightlyFunction]
    - ${Name}LogGroup:
        Type: AWS::Logs::LogGroup
        Properties: {RetentionInDays: 30}
"""
SECRET = "test-secret-" + "s" * 32


@pytest.fixture
def template(tmp_path: Path) -> SamTemplate:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def token(**overrides: object) -> str:
    claims = {"sub": "u1", "tenant_id": "t1", "roles": ["admin"], "iss": "test-issuer", "aud": "test-audience"}
    claims |= {"exp": int(time.time()) + 60, **overrides}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def request(method: str, target: str, bearer: str | None = None) -> Request:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    return Request(method=method, target=target, headers=headers, body=b"", source_ip="127.0.0.1")


def test_routes_schedules_authorizer_and_environment_come_from_the_template(template: SamTemplate) -> None:
    keys = {(r.route_key, r.function, r.auth_required) for r in template.routes}

    assert keys == {
        ("GET /things/{thingId}", "get_thing", True),
        ("GET /things/latest", "get_thing", True),
        ("GET /ping", "ping", False),
    }
    assert [(s.function, s.name, s.expression) for s in template.schedules] == [
        ("nightly", "app-dev-nightly", "cron(0 2 * * ? *)")  # the disabled schedule is left out
    ]
    assert (template.jwt.issuer, template.jwt.audience) == ("test-issuer", ("test-audience",))
    assert template.environment == {"PLAIN": "value", "FROM_PARAMETER": "DEBUG"}
    assert template.function_folder("NightlyFunction") == template.function_folder("nightly") == "nightly"


def test_a_literal_segment_wins_over_a_path_parameter(template: SamTemplate) -> None:
    matches = [(r.path, r.match("/things/latest")) for r in template.routes if r.match("/things/latest") is not None]

    assert matches[0] == ("/things/latest", {})
    assert ("/things/{thingId}", {"thingId": "latest"}) in matches


def test_the_event_carries_path_parameters_query_and_flattened_claims(template: SamTemplate) -> None:
    api = LocalApi(template, SECRET, base_url="http://127.0.0.1:1")
    route = next(r for r in template.routes if "{" in r.path)
    claims = api.authorize(f"Bearer {token()}")
    assert isinstance(claims, dict)

    event = api.http_event(
        request("GET", "/things/a%20b?x=1&x=2&y="), route, "/things/a%20b", "x=1&x=2&y=", {"thingId": "a%20b"}, claims
    )

    assert event["routeKey"] == "GET /things/{thingId}"
    assert event["rawPath"] == "/things/a%20b"
    assert event["pathParameters"] == {"thingId": "a b"}
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    jwt_claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert jwt_claims["roles"] == "[admin]" and jwt_claims["tenant_id"] == "t1" and isinstance(jwt_claims["exp"], str)


@pytest.mark.parametrize(
    ("target", "method", "bearer", "status"),
    [
        ("/nowhere", "GET", None, 404),
        ("/ping", "POST", None, 405),
        ("/things/1", "GET", None, 401),
        ("/things/1", "GET", "garbage", 401),
        ("/things/1", "GET", token(aud="other"), 401),
        ("/things/1", "GET", token(exp=int(time.time()) - 5), 401),
    ],
    ids=["unknown path", "wrong method", "no token", "not a jwt", "wrong audience", "expired"],
)
def test_the_gateway_refuses_before_invoking(
    template: SamTemplate, target: str, method: str, bearer: str | None, status: int
) -> None:
    api = LocalApi(template, SECRET, base_url="http://127.0.0.1:1")
    api.ready.set()

    reply = api.handle(request(method, target, bearer))

    assert reply.status == status
    assert json.loads(reply.body)["status"] == status


def test_nothing_but_health_answers_before_the_stack_is_ready(template: SamTemplate) -> None:
    api = LocalApi(template, SECRET, base_url="http://127.0.0.1:1")

    assert api.handle(request("GET", "/health")).status == 503
    assert api.handle(request("GET", "/ping")).status == 503
    api.ready.set()
    assert api.handle(request("GET", "/health")).status == 200


def test_manual_invoke_is_refused_from_another_machine(template: SamTemplate) -> None:
    api = LocalApi(template, SECRET, base_url="http://127.0.0.1:1")
    api.ready.set()
    remote = Request(method="POST", target="/local/invoke/nightly", headers={}, body=b"", source_ip="10.0.0.8")

    assert api.handle(remote).status == 403


@pytest.mark.parametrize(
    ("bearer", "headers", "body", "status"),
    [
        (None, {}, b"", 401),
        ("garbage", {}, b"", 401),
        ("admin", {}, b"", 403),
        ("system", {"content-type": "application/x-www-form-urlencoded"}, b"a=1", 415),
        ("system", {"content-type": "text/plain"}, b"{}", 415),
    ],
    ids=["no token", "not a jwt", "admin token", "form post", "text body"],
)
def test_manual_invoke_needs_a_system_token_of_the_local_secret_and_a_json_event(
    template: SamTemplate, bearer: str | None, headers: dict[str, str], body: bytes, status: int
) -> None:
    # An empty POST from a web page the developer opens used to run the job.
    api = LocalApi(template, SECRET, base_url="http://127.0.0.1:1")
    api.ready.set()
    if bearer is not None:  # made here: a token made at collection may have expired by the time the test runs
        credential = token(roles=[bearer]) if bearer in ("admin", "system") else bearer
        headers = {**headers, "authorization": f"Bearer {credential}"}

    reply = api.handle(
        Request(method="POST", target="/local/invoke/nightly", headers=headers, body=body, source_ip="127.0.0.1")
    )

    assert reply.status == status
    assert json.loads(reply.body)["status"] == status


def test_lambda_results_map_to_http_as_payload_format_2() -> None:
    bare = lambda_result_to_reply({"ok": True})
    binary = lambda_result_to_reply(
        {"statusCode": 201, "body": "aGk=", "isBase64Encoded": True, "headers": {"X-A": "1"}, "cookies": ["c=1"]}
    )

    assert (bare.status, json.loads(bare.body)) == (200, {"ok": True})
    assert (binary.status, binary.body, binary.headers, binary.cookies) == (201, b"hi", {"X-A": "1"}, ["c=1"])
