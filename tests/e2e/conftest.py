"""One local server per test session (per xdist worker), on free ports with its own data directory; stopped at
the end, moto included, and checked to leave nothing listening.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_server import LocalServer, listening


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    # pytest keeps the last few runs' directories, so a failed run's server logs can be read afterwards.
    server = LocalServer(data_dir=tmp_path_factory.mktemp("local-server") / "data")
    server.start()
    yield server
    server.stop()
    # Nothing left behind: neither the API nor moto still listens.
    assert not listening(server.port), "the local server still listens after SIGTERM"
    assert not listening(server.aws_port), "moto_server outlived the local server"
