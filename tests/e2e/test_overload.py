"""Overload: a tiny write queue sheds load with 503 + Retry-After and loses nothing acked."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

TINY_QUEUE = {
    "CONVTRACK_QUEUE_MAX_EVENTS": "1000",
    "CONVTRACK_COMMIT_INTERVAL_MS": "50",
    "CONVTRACK_MAX_BATCH_EVENTS": "1000",
}
BATCH = 1000
CONCURRENCY = 24
BATCHES_PER_ROUND = 48
MAX_ROUNDS = 5  # bounded traffic: at most 240 batches of 1000 events
RSS_BOUND_KIB = 1024 * 1024  # 1 GiB: a generous bound, not a measurement


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the worker's store process holds the write queue)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in task.read_text().split()]
    return found


def tree_rss_kib(pid: int, vm_rss_kib) -> int:
    total = 0
    for member in _tree(pid):
        with contextlib.suppress(OSError, AssertionError):
            total += vm_rss_kib(member)
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int, vm_rss_kib) -> None:
        super().__init__(daemon=True)
        self.pid, self.read = pid, lambda p: tree_rss_kib(p, vm_rss_kib)
        self.peak_kib = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.peak_kib = max(self.peak_kib, self.read(self.pid))
            time.sleep(0.01)


@pytest.mark.slow
def test_tiny_queue_sheds_load_and_keeps_every_acknowledged_event(new_server, vm_rss_kib):
    srv = new_server(TINY_QUEUE)
    (worker,) = srv.worker_pids()
    rss_before = tree_rss_kib(worker, vm_rss_kib)
    sampler = RssSampler(worker, vm_rss_kib)
    sampler.start()

    headers = {"authorization": f"Bearer {srv.secret_key}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    client = httpx.Client(timeout=120, trust_env=False, limits=limits)
    sent: set[str] = set()
    acked: set[str] = set()
    unknown: set[str] = set()  # a request that failed in transport: outcome not known
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def fire(tag: str) -> None:
        ids = [f"e2e-ovl-{tag}-{i}" for i in range(BATCH)]
        events = [{"event_id": i, "event_name": "burst", "anonymous_id": "o"} for i in ids]
        body = httpx.Request("POST", "/", json={"events": events}).content
        try:
            response = client.post(srv.url + "/v1/events", content=body, headers=headers)
        except httpx.HTTPError:
            with lock:
                sent.update(ids)
                unknown.update(ids)
            return
        if response.status_code == 503:
            srv.expect_error(response, 503, "overloaded")
            assert int(response.headers["retry-after"]) >= 1
        else:
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == BATCH
        with lock:
            sent.update(ids)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                acked.update(ids)

    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            for round_ in range(MAX_ROUNDS):
                tags = [f"{round_}-{n}" for n in range(BATCHES_PER_ROUND)]
                list(pool.map(fire, tags))
                if statuses.get(503) and statuses.get(200):
                    break
    finally:
        sampler.halt.set()
        sampler.join()
        client.close()

    rss_after = tree_rss_kib(worker, vm_rss_kib)
    print(
        f"\noverload: {statuses} over {len(sent) // BATCH} batches of {BATCH};"
        f" worker + store process VmRSS before {rss_before // 1024} MiB,"
        f" peak {sampler.peak_kib // 1024} MiB,"
        f" after {rss_after // 1024} MiB"
    )
    assert statuses.get(503), f"no request was shed: {statuses}"
    assert statuses.get(200), f"nothing was accepted: {statuses}"
    assert sampler.peak_kib < RSS_BOUND_KIB

    # Every acknowledged event is stored once; a 503 stored nothing of its batch.
    rows = srv.sql(
        "SELECT event_id, count(*) AS n FROM events"
        " WHERE starts_with(event_id, 'e2e-ovl-') GROUP BY event_id"
    )
    counts = {r["event_id"]: r["n"] for r in rows}
    assert acked <= set(counts), f"{len(acked - set(counts))} acknowledged events lost"
    assert set(counts) <= acked | unknown, "events of a 503 batch were stored"
    assert all(n == 1 for n in counts.values())

    # After the burst the server is ready and takes events again.
    assert srv.get("/readyz").status_code == 200
    srv.ingest([srv.event() for _ in range(BATCH)])
    srv.assert_intact()
