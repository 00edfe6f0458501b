"""Health and readiness answer 200 JSON; readiness fails without the store process."""

import os
import signal
import time
from pathlib import Path


def test_healthz(server):
    response = server.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok" and body["version"]


def test_readyz(server):
    response = server.get("/readyz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ready"


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").glob("*/children")
        for child in task.read_text().split()
    ]


def test_a_dead_store_process_makes_the_collector_refuse_writes(new_server):
    """Without its store process the collector answers 503, never a false 200."""
    srv = new_server()
    srv.expected_errors.append(" ERROR convtrack.store: the store process is gone")
    secret = srv.secret_key  # made before the store goes away
    (worker,) = srv.worker_pids()
    (store_process,) = [  # (spawn also starts multiprocessing's resource tracker)
        pid
        for pid in _children(worker)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    os.kill(store_process, signal.SIGKILL)
    deadline = time.monotonic() + 60  # wait for the worker to notice; not a timing assertion
    while srv.get("/readyz").status_code != 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    ready = srv.get("/readyz")
    assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
    response = srv.post_events({"events": [srv.event()]}, key=secret)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert srv.get("/healthz").status_code == 200
