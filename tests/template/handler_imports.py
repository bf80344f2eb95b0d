"""What a handler reaches in the layer, read from the code's imports (without importing it).

A handler reaches PostgreSQL when any `finops` module it imports, directly or through other `finops` modules,
imports `finops.db.postgres`: the budget functions through `finops.budgets`, the daily anomaly job through
`finops.anomalies.wiring`, which imports the budget store and notifier inside a function. Imports are followed
wherever they are written (module level or inside a function, since the layer defers heavy imports), and
importing a module also runs its parent packages' `__init__`.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from local.lambda_runtime import FUNCTIONS_DIR, ROOT

LAYER_DIR = ROOT / "layers" / "finops"
POSTGRES_MODULE = "finops.db.postgres"
CLICKHOUSE_MODULE = "finops.db.clickhouse"


def _module_file(module: str) -> Path | None:
    """The file of a `finops` module or package, or None when `module` is not one (e.g. an imported name)."""
    path = LAYER_DIR.joinpath(*module.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _imports(path: Path, package: str) -> set[str]:
    """`finops` modules a file imports; `from a import b` counts `a.b` too when `b` is a submodule."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing file's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found |= {module, *(f"{module}.{alias.name}" for alias in node.names)}
    return {name for name in found if name.split(".")[0] == "finops" and _module_file(name)}


@cache
def layer_modules(function: str) -> frozenset[str]:
    """Every `finops` module the handler of functions/<function>/app.py can load."""
    seen: set[str] = set()
    pending = list(_imports(FUNCTIONS_DIR / function / "app.py", ""))
    while pending:
        parts = pending.pop().split(".")
        for depth in range(1, len(parts) + 1):
            module = ".".join(parts[:depth])
            if module in seen:
                continue
            seen.add(module)
            path = _module_file(module)
            assert path is not None, module
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            pending += _imports(path, package)
    return frozenset(seen)


def reaches_postgres(function: str) -> bool:
    return POSTGRES_MODULE in layer_modules(function)


def reaches_clickhouse(function: str) -> bool:
    return CLICKHOUSE_MODULE in layer_modules(function)
