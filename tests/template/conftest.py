"""Fixtures of the template tests: the parsed template and one `sam build` per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template.sam_template import ROOT, load_template

SAM = ROOT / ".venv-sam" / "bin" / "sam"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


def sam_environment() -> dict[str, str]:
    """The environment `sam` runs in: no telemetry, a region (validate needs one), a python3.12 for builds, and
    AWS::LanguageExtensions expanded locally (template.yaml's Fn::ForEach), as samconfig.toml asks."""
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS": "1",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    pyenv_version = _pyenv_version_with_python312()
    if pyenv_version:
        env["PYENV_VERSION"] = pyenv_version
    return env


def _pyenv_version_with_python312() -> str | None:
    """Like the Makefile's SAM_PYENV: the newest pyenv 3.12, then a 3.11, so `python3.12` resolves."""
    if not shutil.which("pyenv"):
        return None
    versions = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    py312 = sorted((v for v in versions if v.startswith("3.12.")), key=_version_key)
    py311 = sorted((v for v in versions if v.startswith("3.11.")), key=_version_key)
    if not py312:
        return None
    return ":".join([py312[-1], *py311[-1:]])


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def run_sam(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail(f"{SAM} not found: the SAM CLI lives in its own venv (make .venv-sam/.installed or make test)")
    return subprocess.run(
        [str(SAM), *args], cwd=ROOT, env=sam_environment(), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build every function and the layer once per session; yields the build directory."""
    if not _python312_available(sam_environment()):
        pytest.fail(
            "sam build needs a python3.12 for the python3.12 runtime, and none was found "
            "(neither a pyenv 3.12.x nor python3.12 on PATH): install one, e.g. `pyenv install 3.12`"
        )
    root = tmp_path_factory.mktemp("sam")
    build_dir, cache_dir = root / "build", root / "cache"
    result = run_sam(
        "build",
        "--template-file",
        str(ROOT / "template.yaml"),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(cache_dir),
        timeout=900,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    yield build_dir
    shutil.rmtree(root, ignore_errors=True)


def _python312_available(env: dict[str, str]) -> bool:
    """Run it rather than look for it: a pyenv shim exists even when no 3.12 is selected."""
    if not shutil.which("python3.12", path=env.get("PATH")):
        return False
    result = subprocess.run(["python3.12", "--version"], env=env, capture_output=True, text=True, check=False)
    return result.returncode == 0 and result.stdout.startswith("Python 3.12")
