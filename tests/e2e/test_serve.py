"""``convtrack serve`` itself: one port, one server; restarts on the same port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys


def test_second_server_on_a_busy_port_refuses_to_start(new_server, tmp_path):
    first = new_server()
    first.ingest([first.event()])
    other = tmp_path / "other"
    other.mkdir()
    second = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convtrack",
            "serve",
            "--data-dir",
            str(other / "data"),
            "--port",
            str(first.port),
        ],
        cwd=other,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _, stderr = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stderr = "it started and served: a second listener on the same port"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(second.pid, signal.SIGKILL)
        second.wait()
    assert second.returncode != 0 and "already in use" in stderr, stderr
    # The first server keeps every connection (none goes to a second listener).
    for _ in range(20):
        first.assert_intact()
    first.ingest([first.event()])


def test_restart_on_the_same_port_after_traffic(new_server):
    srv = new_server()
    for _ in range(5):
        srv.ingest([srv.event() for _ in range(10)])
    port = srv.port
    srv.stop()
    srv.start(port=port)
    srv.ingest([srv.event()])
    srv.assert_intact()
