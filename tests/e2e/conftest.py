"""One local server per test session (per xdist worker), on free ports with its own data directory; stopped at
the end, moto and the embedded PostgreSQL included, and checked to leave nothing running.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_server import LocalServer, running_server


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    # pytest keeps the last few runs' directories, so a failed run's server logs can be read afterwards.
    with running_server(tmp_path_factory.mktemp("local-server")) as server:
        yield server
