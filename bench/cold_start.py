"""Benchmark 4: cold start (import and init) of each function, in a fresh process per sample.

Each sample is a new interpreter that imports `functions/<name>/app.py` the way `local.lambda_runtime`
does (and the Lambda runtime does with `app.lambda_handler`), then reads the settings, and reports
`time.perf_counter()` deltas. Interpreter start-up itself is not counted (Lambda's runtime bootstrap is a
separate, fixed cost). The environment is Lambda-like: the template's environment variables with a
`LAMBDA_TASK_ROOT`. The functions use no X-Ray SDK (`Tracing: Active` traces them without one; see
finops.observability), so none is imported. For the slowest function,
`python -X importtime` shows which packages the time goes to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

from bench.env import ROOT
from bench.stats import median

TARGET_MS = 300.0
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIR = ROOT / "layers" / "finops"

_PROBE = r"""
import sys, time, json
started = time.perf_counter()
import importlib.util
sys.path.insert(0, {layer!r})
spec = importlib.util.spec_from_file_location("functions.{name}.app", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
imported = time.perf_counter()
from finops.settings import get_settings
get_settings()
assert callable(module.lambda_handler)
done = time.perf_counter()
print(json.dumps({{"import_ms": (imported - started) * 1000, "init_ms": (done - started) * 1000,
                  "modules": len(sys.modules)}}))
"""

# What the template gives every function (see template.yaml Globals), with placeholder endpoints: nothing is
# contacted during init.
_LAMBDA_ENV = {
    "POWERTOOLS_SERVICE_NAME": "finops",
    "POWERTOOLS_METRICS_NAMESPACE": "FinOps",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "CLICKHOUSE_URL": "https://clickhouse.example.com:8443",
    "CLICKHOUSE_DATABASE": "finops",
    "CLICKHOUSE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:clickhouse",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:postgres",
    "DATABASE_SCHEMA": "finops",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
}


# Imported by the interpreter's start-up, not by the function.
_NOT_THE_FUNCTIONS = {"site", "encodings", "_frozen_importlib_external", "zipimport", "_signal", "_sitebuiltins"}


@dataclass
class FunctionColdStart:
    name: str
    api: bool
    lambda_ms: list[float] = field(default_factory=list)
    modules: int = 0

    @property
    def median_ms(self) -> float:
        return median(self.lambda_ms)

    @property
    def passed(self) -> bool:
        return self.median_ms < TARGET_MS


@dataclass
class ColdStartResult:
    samples: int
    functions: list[FunctionColdStart]
    slowest: str
    top_imports: list[tuple[str, float]]  # (top-level package, ms of its modules' own import time)

    @property
    def api_functions(self) -> list[FunctionColdStart]:
        return [f for f in self.functions if f.api]

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.api_functions)


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


def is_api(name: str) -> bool:
    return "make_resolver(" in (FUNCTIONS_DIR / name / "app.py").read_text()


def _environment(lambda_like: bool) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "DATABASE_", "POWERTOOLS_"))}
    if lambda_like:
        return {**base, **_LAMBDA_ENV, "AWS_LAMBDA_FUNCTION_NAME": "bench"}
    return {
        **base,
        "POWERTOOLS_SERVICE_NAME": "finops",
        "POWERTOOLS_METRICS_NAMESPACE": "FinOps",
        "CLICKHOUSE_URL": "https://clickhouse.example.com:8443",
    }


def _probe(name: str, *, lambda_like: bool, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    code = _PROBE.format(layer=str(LAYER_DIR), name=name, path=str(FUNCTIONS_DIR / name / "app.py"))
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code]
    result = subprocess.run(
        command, env=_environment(lambda_like), cwd="/", capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cold start probe of {name} failed: {result.stderr[-2000:]}")
    return result


def sample(name: str, *, lambda_like: bool) -> tuple[float, int]:
    reply = json.loads(_probe(name, lambda_like=lambda_like).stdout.strip().splitlines()[-1])
    return reply["init_ms"], reply["modules"]


def top_imports(name: str, *, count: int = 12) -> list[tuple[str, float]]:
    """Where a function's import time goes, by top-level package: the sum of the self times that
    `python -X importtime` reports for every module of the package (Lambda-like environment)."""
    stderr = _probe(name, lambda_like=True, importtime=True).stderr
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.partition(":")[2].split("|")
        if len(parts) != 3:
            continue
        package = parts[2].strip().split(".")[0]
        if package in _NOT_THE_FUNCTIONS:
            continue
        totals[package] = totals.get(package, 0.0) + int(parts[0]) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def run(*, samples: int, names: list[str] | None = None, log: object = print) -> ColdStartResult:
    names = names or function_names()
    results = {n: FunctionColdStart(n, is_api(n)) for n in names}
    for name in names:  # compile .pyc files once; not a sample
        sample(name, lambda_like=True)
    for round_ in range(samples):  # round-robin so machine noise spreads over all functions
        for name in names:
            ms, modules = sample(name, lambda_like=True)
            results[name].lambda_ms.append(ms)
            results[name].modules = modules
        log(f"cold start: round {round_ + 1}/{samples} done")  # type: ignore[operator]
    ordered = [results[n] for n in names]
    slowest = max((f for f in ordered if f.api), key=lambda f: f.median_ms, default=ordered[0]).name
    return ColdStartResult(samples=samples, functions=ordered, slowest=slowest, top_imports=top_imports(slowest))


def main() -> None:  # pragma: no cover - handy for a quick look: python -m bench.cold_start [name...]
    names = sys.argv[1:] or None
    result = run(samples=5, names=names)
    for f in result.functions:
        print(f"{f.name:32s} {f.median_ms:7.1f} ms")
    print("top imports of", result.slowest, result.top_imports)


if __name__ == "__main__":
    main()
