"""One local server per test session (per xdist worker), on free ports with its own data directory; stopped at
the end, moto and the embedded PostgreSQL included, and checked to leave nothing running.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest

from tests.e2e.local_server import LocalServer, listening, postgres_servers


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    # pytest keeps the last few runs' directories, so a failed run's server logs can be read afterwards.
    server = LocalServer(data_dir=tmp_path_factory.mktemp("local-server") / "data")
    server.start()
    yield server
    server.stop()
    # Nothing left behind: neither the API nor moto still listens, and no PostgreSQL runs on the data.
    leftovers = postgres_servers(server.data_dir)
    for line in leftovers:  # fail, but leave no server running
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGINT)  # PostgreSQL's fast shutdown
    assert not listening(server.port), "the local server still listens after SIGTERM"
    assert not listening(server.aws_port), "moto_server outlived the local server"
    assert not leftovers, f"the embedded PostgreSQL outlived the local server: {leftovers}"
