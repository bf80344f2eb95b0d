"""The embedded local stack: every engine the service needs, started in or beside this process.

- ClickHouse: chDB in-process at `$FINOPS_DATA_DIR/clickhouse`, migrated on start.
- AWS (SNS, EventBridge ...): `moto_server` on 127.0.0.1:`$AWS_LOCAL_PORT` (default 5005), as a child process
  that dies with this one.

Each engine is a `Component` with `start`/`stop`; `Stack` starts them in order and stops them in reverse, so an
embedded PostgreSQL is one more component. Components export what the layer reads (CLICKHOUSE_URL,
AWS_ENDPOINT_URL ...) into the environment, so the handlers run unchanged.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from local.lambda_runtime import ROOT
from local.token import data_dir

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

CLICKHOUSE_DATABASE = "finops"
CLICKHOUSE_SQL = ROOT / "sql" / "clickhouse"
DEFAULT_AWS_PORT = 5005


class StackError(RuntimeError):
    """A component could not start; the message says why and what to do."""


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _reload_layer_settings() -> None:
    """The layer caches its settings and client: make it see the environment just exported."""
    from finops.costs.rate_card import forget_cached_rate_card
    from finops.db import clickhouse
    from finops.settings import reload_settings

    reload_settings()
    clickhouse.reset_client()
    forget_cached_rate_card()


class ClickHouse:
    name = "clickhouse"

    def __init__(self, path: Path, database: str = CLICKHOUSE_DATABASE) -> None:
        self.path = path
        self.database = database
        self._admin: Client | None = None

    def start(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        os.environ["CLICKHOUSE_URL"] = f"chdb://{self.path}"
        os.environ["CLICKHOUSE_DATABASE"] = self.database
        _reload_layer_settings()

        from clickhouse_connect.driver.exceptions import ProgrammingError

        from finops.db.clickhouse import connect
        from finops.db.migrate import apply_migrations

        try:
            admin = connect()
        except ProgrammingError as error:
            if "Code: 36" not in str(error):
                raise
            raise StackError(
                f"ClickHouse data in {self.path} is in use by another process{self._holder()} "
                "(chDB allows one process per data directory). Stop the other `make run`, or use another "
                "FINOPS_DATA_DIR."
            ) from None
        applied = apply_migrations(admin, self.database, CLICKHOUSE_SQL)
        if applied:
            print(f"clickhouse: applied {', '.join(applied)}", flush=True)
        # The handlers' cached client is made on first use; `admin` stays open so the engine stays up.
        self._admin = admin

    def _holder(self) -> str:
        # ClickHouse writes the owner's PID into its status file.
        status = self.path / "status"
        try:
            pid = next(
                line.split(":", 1)[1].strip() for line in status.read_text().splitlines() if line.startswith("PID")
            )
        except (OSError, StopIteration):
            return ""
        return f" (PID {pid})"

    def stop(self) -> None:
        from finops.db import clickhouse

        clickhouse.reset_client()
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class Moto:
    """moto's server: the local endpoint for every AWS API the functions call (SNS, EventBridge ...)."""

    name = "moto"

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_in_use(self.port):
            raise StackError(
                f"port {self.port} (local AWS) is already in use, perhaps by a moto_server left over from an "
                f"earlier run: find it with `ss -ltnp 'sport = :{self.port}'`, or set AWS_LOCAL_PORT."
            )
        executable = Path(sys.executable).with_name("moto_server")
        command = [str(executable) if executable.exists() else "moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                process_group=0,  # Ctrl-C reaches the server, which then stops moto in order
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"moto_server exited with code {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        else:
            self.stop()
            raise StackError(f"moto_server did not answer on port {self.port} within 20 s; see {self.log_path}")
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                # Fixed dummy credentials: the local stack must never reach a real AWS account.
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when the parent dies, so even a killed server leaves no moto."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class Stack:
    """The components of the local stack, started in order and stopped in reverse (also at exit)."""

    def __init__(self, components: list[Component]) -> None:
        self.components = components
        self._started: list[Component] = []
        atexit.register(self.stop)

    @classmethod
    def default(cls, *, with_aws: bool = True) -> Stack:
        root = data_dir()
        components: list[Component] = [ClickHouse(root / "clickhouse")]
        if with_aws:
            port = int(os.environ.get("AWS_LOCAL_PORT") or DEFAULT_AWS_PORT)
            components.append(Moto(port, root / "logs" / "moto.log"))
        return cls(components)

    def start(self) -> Stack:
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon locally
        for component in self.components:
            try:
                component.start()
            except BaseException:
                self.stop()
                raise
            self._started.append(component)
        return self

    def stop(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as error:  # keep stopping the others
                print(f"stack: stopping {component.name} failed: {error}", file=sys.stderr)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
