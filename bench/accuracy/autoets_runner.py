"""statsforecast forecasts for the accuracy bench; runs inside .venv-statsforecast (it needs pandas<3).

Standalone on purpose (no project imports): `python autoets_runner.py IN.npz OUT.npz`. IN holds `histories`
(series x days), `horizon` and optionally `models` (statsforecast model class names, default AutoETS); OUT
gets `mean`, `lo80`, `hi80`, `lo95`, `hi95` (series x horizon) and `seconds` (fit + predict time of each
series), each prefixed with `Model:` unless only AutoETS was asked for.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np


def main(source: str, target: str) -> None:
    from statsforecast import models as sf

    data = np.load(source)
    histories, horizon = data["histories"], int(data["horizon"])
    names = [str(n) for n in data["models"]] if "models" in data else ["AutoETS"]
    results: dict[str, np.ndarray] = {}
    for model in names:
        make = getattr(sf, model)
        out = {key: np.full((len(histories), horizon), np.nan) for key in ("mean", "lo80", "hi80", "lo95", "hi95")}
        seconds = np.zeros(len(histories))
        # The first fit compiles/warms caches: not part of any series' time.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make(season_length=7).forecast(y=histories[0].astype(float), h=horizon, level=[80, 95])
        for i, y in enumerate(histories):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = make(season_length=7).forecast(y=y.astype(float), h=horizon, level=[80, 95])
            seconds[i] = time.perf_counter() - start
            for key, name in (
                ("mean", "mean"),
                ("lo80", "lo-80"),
                ("hi80", "hi-80"),
                ("lo95", "lo-95"),
                ("hi95", "hi-95"),
            ):
                out[key][i] = result[name]
        prefix = "" if names == ["AutoETS"] else f"{model}:"
        results.update({prefix + key: value for key, value in out.items()})
        results[prefix + "seconds"] = seconds
    np.savez(target, **results)  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
