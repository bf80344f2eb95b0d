"""The benchmark's environment: one chDB engine directory per run, set up before the layer reads settings.

chDB allows one process per data directory, so the whole run uses one directory under `bench/data/`
(git-ignored), wiped at the start. Each benchmark gets its own database in it; `use_database` points the
layer's cached client (the one the handlers use) at it.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
ENGINE_DIR = DATA_DIR / "chdb"
CLICKHOUSE_SQL = ROOT / "sql" / "clickhouse"

# Lambda-like defaults for Powertools.
_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "finops",
    "POWERTOOLS_METRICS_NAMESPACE": "FinOps",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Scale runs do in one call what a Lambda's time limits would cut: the limits are the jobs' ones.
    "CLICKHOUSE_QUERY_TIMEOUT_SECONDS": "900",
    "POSTGRES_STATEMENT_TIMEOUT_MS": "900000",
}


def prepare_engine_dir() -> Path:
    """A fresh engine directory; must run before anything imports `finops.settings`."""
    if "finops.settings" in sys.modules:
        raise RuntimeError("prepare_engine_dir() must run before the layer is imported")
    if ENGINE_DIR.exists():
        shutil.rmtree(ENGINE_DIR)
    ENGINE_DIR.mkdir(parents=True)
    os.environ["CLICKHOUSE_URL"] = f"chdb://{ENGINE_DIR}"
    os.environ["CLICKHOUSE_DATABASE"] = "bench"
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    # The handlers are loaded the way the local server loads them (this also puts the layer on sys.path).
    import local.lambda_runtime  # noqa: F401

    return ENGINE_DIR


def create_database(name: str) -> Any:
    """Create (afresh) and migrate `name`, point the layer's cached client at it, and return that client."""
    from finops.db import clickhouse as clickhouse_db
    from finops.db.migrate import apply_migrations
    from finops.settings import reload_settings

    os.environ["CLICKHOUSE_DATABASE"] = name
    reload_settings()
    admin = clickhouse_db.connect()
    admin.command(f"DROP DATABASE IF EXISTS {name}")
    apply_migrations(admin, name, CLICKHOUSE_SQL)
    admin.close()
    return use_database(name)


def use_database(name: str) -> Any:
    """Point the layer's cached client (the one the handlers use) at an existing database and return it."""
    from finops.costs.queries import forget_imported_currencies
    from finops.costs.rate_card import forget_cached_rate_card
    from finops.db import clickhouse as clickhouse_db
    from finops.settings import reload_settings

    os.environ["CLICKHOUSE_DATABASE"] = name
    reload_settings()
    clickhouse_db.reset_client()
    forget_cached_rate_card()
    forget_imported_currencies()
    return clickhouse_db.get_client()


def machine_details() -> dict[str, str]:
    cpu_line = _first_line("/proc/cpuinfo", "model name")
    cpu = cpu_line.split(":", 1)[1].strip() if cpu_line else "unknown"
    ram_line = _first_line("/proc/meminfo", "MemTotal")
    ram = f"{int(ram_line.split()[1]) / 1024 / 1024:.1f} GiB" if ram_line else "unknown"
    os_line = _first_line("/etc/os-release", "PRETTY_NAME=")
    os_name = (
        f"{os_line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})" if os_line else platform.platform()
    )
    versions = {}
    for package in ("chdb", "chdb-core", "clickhouse-connect", "numpy", "pydantic", "aws-lambda-powertools"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": os_name,
        "Python": platform.python_version(),
        **versions,
    }


def _first_line(path: str, prefix: str) -> str | None:
    """The first line of a system file that starts with `prefix`; None without one (or without the file)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return None
    return next((line for line in lines if line.startswith(prefix)), None)
