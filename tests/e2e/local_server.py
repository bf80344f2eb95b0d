"""The local server as a user runs it: `python -m local.server` in a subprocess, called over real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.lambda_runtime import ROOT
from local.token import issue_token

STARTUP_TIMEOUT = 90.0
# A PostgreSQL the person running the tests chose (DATABASE_URL before pytest started) is passed on to the
# server; one the integration fixtures started in this process is not: the server starts its own.
_CHOSEN_DATABASE = {name: os.environ[name] for name in ("DATABASE_URL", "DATABASE_SCHEMA") if name in os.environ}
_STACK_SETTINGS = ("CLICKHOUSE_", "PYTEST_", "DATABASE_", "ALERTS_TOPIC_ARN", "ADMIN_TOPIC_ARN", "AWS_ENDPOINT_URL")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def postgres_servers(data_dir: Path) -> list[str]:
    """`ps` lines of the PostgreSQL servers whose data directory is inside `data_dir` (`-ww`: whole command
    lines, whatever width COLUMNS says)."""
    listing = subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in listing.splitlines() if "postgres" in line and f" -D {data_dir}/" in line]


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class LocalServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    aws_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def embedded_postgres(self) -> bool:
        """Whether the server runs its own PostgreSQL (no DATABASE_URL was given)."""
        return "DATABASE_URL" not in _CHOSEN_DATABASE

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"server-{self.starts}.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_STACK_SETTINGS)}
        env.update(
            _CHOSEN_DATABASE,
            FINOPS_DATA_DIR=str(self.data_dir),
            PORT=str(self.port),
            AWS_LOCAL_PORT=str(self.aws_port),
            POWERTOOLS_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        return {**env, **extra}

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local.server"], cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the local server exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            try:
                if self.get("/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the local server was not ready within {STARTUP_TIMEOUT} s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or `kill -9` would: the server gets no chance to stop its stack."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def token(self, tenant: str | None, *roles: str, lifetime: timedelta = timedelta(hours=1)) -> str:
        return issue_token(tenant, list(roles), directory=self.data_dir, lifetime=lifetime)

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        query: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> HttpReply:
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return HttpReply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return HttpReply(error.code, dict(error.headers), error.read().decode())

    def get(self, path: str, **kwargs: Any) -> HttpReply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> HttpReply:
        return self.request("POST", path, body=body, **kwargs)


@contextlib.contextmanager
def running_server(logs: Path) -> Iterator[LocalServer]:
    """A started server, stopped on exit and checked to leave nothing running; its logs are copied to `logs`.

    Its data lives in a temporary directory of its own, not under pytest's temporary root: any pytest session
    started on the machine meanwhile (another engineer's, say) makes that root private again (mode 0700), and
    the embedded PostgreSQL, which runs as a user of its own, then loses its data directory mid-run.
    """
    root = Path(tempfile.mkdtemp(prefix="finops-e2e-"))
    server = LocalServer(data_dir=root / "data")
    try:
        server.start()
        try:
            yield server
        finally:
            server.stop()
        # Nothing left behind: neither the API nor moto still listens, and no PostgreSQL runs on the data.
        leftovers = postgres_servers(server.data_dir)
        for line in leftovers:  # fail, but leave no server running
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGINT)  # PostgreSQL's fast shutdown
        assert not listening(server.port), "the local server still listens after SIGTERM"
        assert not listening(server.aws_port), "moto_server outlived the local server"
        assert not leftovers, f"the embedded PostgreSQL outlived the local server: {leftovers}"
    finally:
        for log in root.glob("server-*.log"):
            shutil.copy(log, logs)
        shutil.rmtree(root, ignore_errors=True)
