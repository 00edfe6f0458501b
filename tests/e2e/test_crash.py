"""``kill -9`` mid-stream: nothing acknowledged is lost, nothing is stored twice."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

BATCH = 100
MAX_BATCHES = 3000  # a bound on the traffic, never reached in practice
WAIT = 60.0  # seconds to wait for the senders to get going (not a timing assertion)


class Sender(threading.Thread):
    """Sends batches back to back; records what was sent and what was acknowledged (200)."""

    def __init__(self, url: str, key: str, tag: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key, self.tag = url, key, tag
        self.sent: list[list[str]] = []
        self.acked: set[str] = set()
        self.acked_batches = 0
        self.statuses: dict[str, int] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        headers = {"authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=30, trust_env=False) as client:
            for n in range(MAX_BATCHES):
                if self.halt.is_set():
                    return
                ids = [f"e2e-crash-{self.tag}-{n}-{i}" for i in range(BATCH)]
                self.sent.append(ids)
                events = [{"event_id": i, "event_name": "crash", "anonymous_id": "c"} for i in ids]
                try:
                    response = client.post(self.url, json={"events": events}, headers=headers)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                else:
                    outcome = str(response.status_code)
                    if response.status_code == 200 and response.json()["accepted"] == BATCH:
                        self.acked.update(ids)
                        self.acked_batches += 1
                    elif response.status_code == 200:
                        outcome = "200 but not all accepted"
                self.statuses[outcome] = self.statuses.get(outcome, 0) + 1


def resend(server, batches: list[list[str]]) -> None:
    """Send batches until each is acknowledged (honouring 503 + Retry-After, bounded)."""
    for ids in batches:
        events = [{"event_id": i, "event_name": "crash", "anonymous_id": "c"} for i in ids]
        for _ in range(20):
            response = server.post_events({"events": events})
            if response.status_code != 503:
                break
            time.sleep(float(response.headers.get("retry-after", "1")))
        assert response.status_code == 200, response.text


@pytest.mark.slow
def test_kill9_mid_stream_loses_nothing_acknowledged(new_server):
    srv = new_server()
    url = srv.url + "/v1/events"
    senders = [Sender(url, srv.secret_key, tag) for tag in ("a", "b")]
    for s in senders:
        s.start()
    try:
        deadline = time.monotonic() + WAIT
        while sum(s.acked_batches for s in senders) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(s.acked_batches for s in senders) >= 40, [s.statuses for s in senders]
        srv.kill9()  # while both senders are mid-request
    finally:
        for s in senders:
            s.halt.set()
        for s in senders:
            s.join(timeout=60)
    assert not any(s.is_alive() for s in senders)

    outcomes = [s.statuses for s in senders]
    assert not any("200 but not all accepted" in o for o in outcomes), outcomes
    acked_before = set().union(*(s.acked for s in senders))
    sent = [ids for s in senders for ids in s.sent]
    unacked = [ids for ids in sent if not acked_before.issuperset(ids)]
    assert unacked, "nothing was sent after the last acknowledgement"
    print(
        f"\ncrash: {len(sent)} batches sent, {len(acked_before)} events acknowledged before"
        f" kill -9, {len(unacked)} batches unacknowledged; outcomes per sender: {outcomes}"
    )

    srv.start()  # same data dir: DuckDB replays its WAL
    acked_sample = [ids for ids in sent if acked_before.issuperset(ids)]
    resend(srv, unacked + acked_sample[:3] + acked_sample[-3:])

    rows = srv.sql(
        "SELECT event_id, count(*) AS n FROM events"
        " WHERE starts_with(event_id, 'e2e-crash-') GROUP BY event_id"
    )
    counts = {r["event_id"]: r["n"] for r in rows}
    all_ids = {i for ids in sent for i in ids}
    assert acked_before <= set(counts), f"{len(acked_before - set(counts))} acknowledged lost"
    assert set(counts) == all_ids  # everything sent is now acknowledged, and nothing else
    assert all(n == 1 for n in counts.values())
    total = srv.sql("SELECT count(*) AS n FROM events WHERE starts_with(event_id, 'e2e-crash-')")
    assert total[0]["n"] == len(all_ids)
