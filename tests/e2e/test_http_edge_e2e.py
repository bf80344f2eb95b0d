"""The contract at the API edge over real HTTP, each case found by hand or by schemathesis on the previous code:
out-of-range dates, bodies in other media types, unknown methods, a malformed request, the CSV export and the
local invoke endpoint."""

from __future__ import annotations

import csv
import gzip
import io
import json
import socket
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from local.lambda_runtime import ROOT
from tests.e2e.local_server import HttpReply, LocalServer

pytestmark = pytest.mark.e2e

API = "/v1/analytics/finops"
B = "/api/ai-budget/finops"
ANY_ID = "00000000-0000-4000-8000-000000000000"
# The routes that take a JSON body, each with a body that is valid JSON for it.
BODY_ROUTES = [
    ("POST", f"{API}/telemetry", {"events": [{"eventId": "x"}]}),
    ("POST", f"{API}/aggregate", {"date": "2026-01-01", "tenantId": "demo"}),
    ("POST", f"{API}/rate-card", {"effectiveFrom": "2030-01-01", "source": "s", "prices": []}),
    ("POST", f"{API}/exchange-rates", {"source": "s", "rates": []}),
    ("POST", f"{API}/anomalies/{ANY_ID}/acknowledge", {"note": "ok"}),
    ("POST", f"{B}/budgets", {"tenantId": "demo"}),
    ("PATCH", f"{B}/budgets/{ANY_ID}", {"amount": 1}),
    ("POST", f"{B}/budgets/{ANY_ID}/check-enforcement", {"operationType": "export"}),
    ("POST", f"{B}/tenants/demo/check-enforcement", {"operationType": "export"}),
]


def raw(server: LocalServer, method: str, path: str, body: bytes, headers: dict[str, str]) -> HttpReply:
    request = urllib.request.Request(server.base_url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return HttpReply(response.status, dict(response.headers), response.read().decode())
    except urllib.error.HTTPError as error:
        return HttpReply(error.code, dict(error.headers), error.read().decode())


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"{API}/costs/summary", {"from": "0001-01-01", "to": "0001-01-05"}),
        (f"{API}/costs/top-drivers", {"from": "0001-01-01", "to": "0001-01-05"}),
        (f"{API}/anomalies", {"from": "0001-01-01", "to": "0001-01-05"}),
        (f"{API}/forecast", {"asOf": "0001-01-05"}),
    ],
)
def test_year_one_is_a_422_naming_the_date(local_server: LocalServer, path: str, query: dict[str, str]) -> None:
    reply = local_server.get(path, token=local_server.token("demo", "admin"), query={"tenantId": "demo", **query})

    assert reply.status == 422, reply.text
    assert reply.json["errors"][0]["loc"] == ["query", next(iter(query))]


@pytest.mark.parametrize(("method", "path", "body"), BODY_ROUTES, ids=[f"{m} {p}" for m, p, _ in BODY_ROUTES])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_json_sent_as_another_media_type_is_a_415(
    local_server: LocalServer, method: str, path: str, body: dict[str, object], content_type: str
) -> None:
    headers = {"Authorization": f"Bearer {local_server.token('demo', 'admin')}", "Content-Type": content_type}

    reply = raw(local_server, method, path, json.dumps(body).encode(), headers)

    assert reply.status == 415, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json == {
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "detail": "header.content-type: the body must be sent with Content-Type: application/json",
        "errors": [
            {
                "loc": ["header", "content-type"],
                "type": "unsupported_media_type",
                "msg": "the body must be sent with Content-Type: application/json",
            }
        ],
    }


@pytest.mark.parametrize(("method", "status"), [("TRACE", 405), ("PROPFIND", 405), ("BREW", 405)])
def test_an_unknown_method_is_answered_in_json_like_api_gateway(
    local_server: LocalServer, method: str, status: int
) -> None:
    reply = raw(local_server, method, f"{API}/costs", b"", {})
    elsewhere = raw(local_server, method, "/nowhere", b"", {})

    assert (reply.status, reply.headers["Content-Type"]) == (status, "application/problem+json"), reply.text
    assert reply.json["status"] == status
    assert (elsewhere.status, elsewhere.json["status"]) == (404, 404)


def test_a_request_the_http_parser_refuses_gets_the_json_error_body(local_server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", local_server.port), timeout=10) as connection:
        connection.sendall(b"GET /a b HTTP/1.1\r\n\r\n")  # four words: not a request line
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 400


def test_the_csv_export_is_rfc_4180_named_and_free_of_formulas(local_server: LocalServer) -> None:
    # Given a tenant whose services are named by its users, one of them like a spreadsheet formula
    tenant = f"csv-{uuid.uuid4().hex[:8]}"
    admin = local_server.token(tenant, "admin")
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        {
            "eventId": f"{tenant}-{i}",
            "tenantId": tenant,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "category": "EGRESS",
            "service": service,
            "region": "us-east-1",
            "bytes": 1000,
            "costUsd": 1.5,
        }
        for i, service in enumerate(['=HYPERLINK("http://evil.test","Click")', "reports, daily"])
    ]
    assert local_server.post(f"{API}/telemetry", {"events": events}, token=admin).json["accepted"] == 2
    day = now.date().isoformat()

    # When its costs are exported by service
    reply = local_server.get(
        f"{API}/costs",
        token=admin,
        query={"tenantId": tenant, "from": day, "to": day, "groupBy": "service", "format": "csv"},
    )

    # Then the file is RFC 4180, has a name, and the formula reads as text
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert reply.headers["Content-Disposition"] == f'attachment; filename="costs-{tenant}-{day}-{day}.csv"'
    assert reply.text.endswith("\r\n") and "\n" not in reply.text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(reply.text, newline="")))
    assert sorted(r["service"] for r in rows) == ['\'=HYPERLINK("http://evil.test","Click")', "reports, daily"]
    assert [r["cost"] for r in rows] == ["1.500000", "1.500000"]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, b"", 401),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"time=2026-01-01", 401),
        ({"Content-Type": "text/plain"}, b"{}", 401),
    ],
    ids=["empty post", "form post", "text post"],
)
def test_local_invoke_refuses_callers_without_the_local_secret(
    local_server: LocalServer, headers: dict[str, str], body: bytes, status: int
) -> None:
    # an empty POST with no credentials used to run the job; a web page can send any of these
    runs = local_server.log().count("POST /local/invoke/run_daily_aggregation -> 200")
    reply = raw(local_server, "POST", "/local/invoke/run_daily_aggregation", body, headers)
    as_admin = raw(
        local_server,
        "POST",
        "/local/invoke/run_daily_aggregation",
        b"",
        {"Authorization": f"Bearer {local_server.token('demo', 'admin')}"},
    )

    assert reply.status == status and reply.json["status"] == status
    assert as_admin.status == 403
    assert local_server.log().count("POST /local/invoke/run_daily_aggregation -> 200") == runs


def test_a_focus_file_is_imported_over_http_plain_or_gzip_and_exported_back(local_server: LocalServer) -> None:
    """The sample bill through the server's HTTP: gzip bytes pass as a base64 body, as API Gateway passes them."""
    system = {"Authorization": f"Bearer {local_server.token(None, 'system')}"}
    sample = (ROOT / "tests" / "data" / "focus-1.0-sample.csv").read_bytes()
    path = f"{API}/imports/focus?tenantId=focus-e2e"

    zipped = raw(
        local_server,
        "POST",
        path,
        gzip.compress(sample),
        {**system, "Content-Type": "text/csv", "Content-Encoding": "gzip"},
    )
    plain = raw(local_server, "POST", path, sample, {**system, "Content-Type": "text/csv; charset=utf-8"})

    for reply in (zipped, plain):
        assert reply.status == 200, reply.text
        assert reply.json["totals"] == [
            {"currency": "USD", "rows": 1000, "billedCost": "20.52022672899", "effectiveCost": "14.97651418586"}
        ]
    exported = local_server.get(
        f"{API}/costs",
        token=local_server.token(None, "system"),
        query={"tenantId": "focus-e2e", "from": "2024-09-01", "to": "2024-09-30", "format": "focus"},
    )
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sum(Decimal(r["BilledCost"]) for r in rows) == Decimal("20.52022672899")  # imported twice, counted once


def test_json_sent_to_the_focus_import_is_a_415_naming_the_media_type(local_server: LocalServer) -> None:
    headers = {"Authorization": f"Bearer {local_server.token('demo', 'admin')}", "Content-Type": "application/json"}

    reply = raw(local_server, "POST", f"{API}/imports/focus?tenantId=demo", b"{}", headers)

    assert reply.status == 415 and reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json["errors"][0]["msg"] == "the body must be sent with Content-Type: text/csv"
