"""End-to-end harness: the fixtures over ``live_server.Server`` (a real ``convtrack serve``).

Tests talk to the server over HTTP and read the store; see ``tests/live_server.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from live_server import Server, guarded_server, vm_rss_kib


@pytest.fixture(name="vm_rss_kib")
def vm_rss_kib_fixture() -> Callable[[int], int]:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    return vm_rss_kib


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for tests that do not stop or overload it; every bad-input test
    checks the events it stored up front are still there."""
    with guarded_server(tmp_path_factory.mktemp("shared")) as srv:
        yield srv


@pytest.fixture
def new_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory for a dedicated server (for restarts, crashes, overload); always killed."""
    made: list[Server] = []

    def make(env: dict[str, str] | None = None) -> Server:
        srv = Server(tmp_path / f"srv{len(made)}", env)
        srv.root.mkdir()
        made.append(srv)
        return srv.start()

    try:
        yield make
    finally:
        for srv in made:
            srv.close()
    for srv in made:
        srv.assert_clean_logs()
