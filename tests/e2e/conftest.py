"""One local server per test session (per xdist worker), on free ports with its own data directory; stopped at
the end, moto included, and checked to leave nothing listening.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local_server import LocalServer, listening


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    workdir = Path(tempfile.mkdtemp(prefix="finops-e2e-"))
    server = LocalServer(data_dir=workdir / "data")
    server.start()
    yield server
    server.stop()
    # Nothing left behind: neither the API nor moto still listens.
    assert not listening(server.port), "the local server still listens after SIGTERM"
    assert not listening(server.aws_port), "moto_server outlived the local server"
