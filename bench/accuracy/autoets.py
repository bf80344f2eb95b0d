"""statsforecast's AutoETS in its own virtual environment (it needs pandas<3; the project's venv has pandas 3).

The environment is created on first use (`python3 -m venv` + pip from requirements-statsforecast.txt); the
histories go to the runner as an .npz file and the forecasts come back the same way.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".venv-statsforecast"
REQUIREMENTS = HERE / "requirements-statsforecast.txt"
RUNNER = HERE / "autoets_runner.py"


@dataclass(frozen=True, slots=True)
class AutoEtsForecasts:
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    seconds: np.ndarray
    version: str


def ensure_environment() -> tuple[Path | None, str]:
    """The venv's python, creating the venv if needed; (None, reason) when it cannot be installed."""
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if not marker.exists():
        print(f"creating {VENV.name} for the AutoETS comparison (once)...", file=sys.stderr)
        try:
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
            subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(REQUIREMENTS),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            return (
                None,
                f"could not install statsforecast: {detail.strip().splitlines()[-1] if detail.strip() else exc}",
            )
        marker.touch()
    version = subprocess.run(
        [str(python), "-c", "import statsforecast, pandas; print(statsforecast.__version__, pandas.__version__)"],
        capture_output=True,
        text=True,
    )
    if version.returncode != 0:
        return None, f"statsforecast does not import: {version.stderr.strip().splitlines()[-1]}"
    sf, pd = version.stdout.split()
    return python, f"statsforecast {sf} (pandas {pd})"


def run(histories: np.ndarray, horizon: int) -> AutoEtsForecasts | str:
    """AutoETS(season_length=7) forecasts of every history, or the reason it could not run."""
    result = run_models(histories, horizon, ("AutoETS",))
    return result if isinstance(result, str) else result["AutoETS"]


def run_models(histories: np.ndarray, horizon: int, models: tuple[str, ...]) -> dict[str, AutoEtsForecasts] | str:
    """Forecasts of every history by each statsforecast model (season_length=7), or why they could not run."""
    python, version = ensure_environment()
    if python is None:
        return version
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(source, histories=histories, horizon=horizon, models=np.array(models))
        done = subprocess.run([str(python), str(RUNNER), str(source), str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            return f"statsforecast run failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        data = np.load(target)
        found = {}
        for model in models:
            prefix = "" if models == ("AutoETS",) else f"{model}:"
            found[model] = AutoEtsForecasts(
                mean=data[prefix + "mean"],
                lo80=data[prefix + "lo80"],
                hi80=data[prefix + "hi80"],
                lo95=data[prefix + "lo95"],
                hi95=data[prefix + "hi95"],
                seconds=data[prefix + "seconds"],
                version=version,
            )
        return found
