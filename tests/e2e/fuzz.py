"""A schemathesis campaign against the local server, as one role: the CLI in a subprocess, its HAR report read
back to count every request and status.

Used by tests/e2e/test_fuzz_e2e.py (bounded, in `make test`) and by `make fuzz` (a long campaign). Each role
gets its own token; tenant ids, dates and budget ids are drawn partly from dictionaries of real values (the
demo tenant, days with data), so generated requests reach the core logic instead of stopping at a 403 or 404.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.e2e.local_server import LocalServer

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
ROLES: dict[str, str | None] = {"user": "demo", "admin": "demo", "system": None}  # role -> tenant of its token
# How often a tenant id, date or amount comes from the dictionaries rather than from the schema's own strategy.
REAL_VALUE_PROBABILITY = 0.7


@dataclass
class Campaign:
    role: str
    exit_code: int
    requests: int
    statuses: Counter[int]
    failures: list[str] = field(default_factory=list)
    tool_errors: list[str] = field(default_factory=list)  # schemathesis' own crashes, not answers of the API
    output: str = ""

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def summary(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_errors": self.server_errors,
            "contract_violations": len(self.failures),
            "tool_errors": len(self.tool_errors),
            "exit_code": self.exit_code,
        }


def config(tenant: str | None) -> str:
    """The schemathesis.toml of a campaign: where real values are mixed into generated ones."""
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in (0, 1, 7, 30, 89, 120)]
    tenants = [tenant or "demo", "other-tenant"]
    bindings = {
        "query.tenantId": "tenants",
        "path.tenant_id": "tenants",
        "body.tenantId": "tenants",
        "query.from": "days",
        "query.to": "days",
        "query.asOf": "days",
        "body.date": "days",
        "body.from": "days",
        "body.to": "days",
        "body.startDate": "days",
    }
    lines = [
        "[dictionaries.tenants]",
        f"values = {json.dumps(tenants)}",
        "[dictionaries.days]",
        f"values = {json.dumps(days)}",
        "[parameters]",
        *(
            f'"{key}" = {{ dictionary = "{name}", probability = {REAL_VALUE_PROBABILITY} }}'
            for key, name in bindings.items()
        ),
    ]
    return "\n".join(lines) + "\n"


def run_campaign(
    server: LocalServer,
    role: str,
    workdir: Path,
    *,
    max_time: int,
    max_examples: int,
    workers: int = 1,
    seed: int | None = None,
) -> Campaign:
    """Fuzz every operation as `role` for at most `max_time` seconds; the CLI's exit code, the requests sent
    (from its HAR report) with their statuses, and the failed checks."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "schemathesis.toml").write_text(config(ROLES[role]))
    token = server.token(ROLES[role], role, lifetime=timedelta(seconds=max_time + 600))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(workdir / "schemathesis.toml"),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--workers",
        str(workers),  # the server runs one invocation at a time (one Lambda container); more overlap generation
        "--request-timeout",
        "60",
        "--report",
        "har,json",
        "--report-dir",
        str(workdir),
        "--no-color",
        "--generation-database",
        "none",
        *(["--seed", str(seed)] if seed is not None else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=max_time + 600)
    statuses: Counter[int] = Counter()
    for har in workdir.glob("har-*.json"):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            statuses[int(entry["response"]["status"])] += 1
    failures: list[str] = []
    tool_errors: list[str] = []
    for report in workdir.glob("json-*.json"):
        run = json.loads(report.read_text())
        failures += [json.dumps(failure)[:2000] for failure in run.get("failures", [])]
        tool_errors += [json.dumps(error)[:2000] for error in run.get("errors", [])]
    return Campaign(
        role=role,
        exit_code=done.returncode,
        requests=sum(statuses.values()),
        statuses=statuses,
        failures=failures,
        tool_errors=tool_errors,
        output=done.stdout[-20000:] + done.stderr[-5000:],
    )
