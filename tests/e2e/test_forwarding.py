"""Forwarding end to end: a live ``convtrack serve`` delivering to spec-checking fake platforms.

Deadlines below only bound how long a test waits for deliveries; nothing asserts on timing.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from forward.fakes import FakePlatform
from forward.outbox_helpers import RAW_EMAIL, RAW_PHONE, assert_no_raw_pii, dedup_key
from live_server import Server

DEADLINE = 60.0
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
GRANTED = {s: "granted" for s in
           ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")}  # fmt: skip


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePlatform]]:
    started = {name: FakePlatform(name).__enter__() for name in ("meta", "ga4", "webhook")}
    try:
        yield started
    finally:
        for fake in started.values():
            fake.__exit__(None, None, None)


def forwarding_env(fakes: dict[str, FakePlatform], **extra: str) -> dict[str, str]:
    env = {
        "CONVTRACK_DESTINATIONS": ",".join(fakes),
        "CONVTRACK_FORWARD_POLL_MS": "50",
        "CONVTRACK_FORWARD_RETRY_BASE_SECONDS": "0.05",
        "CONVTRACK_FORWARD_RETRY_MAX_SECONDS": "0.2",
        "CONVTRACK_FORWARD_MAX_ATTEMPTS": "1000",
        "CONVTRACK_FORWARD_PAUSE_AFTER_FAILURES": "0",
        "CONVTRACK_FORWARD_TIMEOUT_SECONDS": "30",
    }
    for fake in fakes.values():
        env |= fake.env()
    return env | extra


def purchase(server: Server, **fields: Any) -> dict[str, Any]:
    event_id = server.new_id("buy")
    values: dict[str, Any] = {
        "event_name": "purchase",
        "event_id": event_id,
        "value": 42.5,
        "currency": "EUR",
        "order_id": f"O-{event_id}",
        "context": {
            "url": "https://shop.example.com/thanks",
            "user_agent": UA,
            "ip": "203.0.113.7",
        },
        "identifiers": {"email": RAW_EMAIL, "phone": RAW_PHONE},
        "consent": dict(GRANTED),
        "properties": {"order_id": f"O-{event_id}", "value": 42.5},
    }
    return server.event(**(values | fields))


def jobs(server: Server) -> dict[tuple[str, str], dict[str, Any]]:
    rows = server.sql("SELECT event_id, destination, status, attempts, last_error FROM outbox")
    return {(r["event_id"], r["destination"]): r for r in rows}


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def delivered(server: Server, destination: str, ids: list[str]) -> bool:
    found = jobs(server)
    return all(found.get((i, destination), {}).get("status") == "delivered" for i in ids)


def test_one_destination_down_then_back_delivers_everything_once_and_blocks_no_other(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform]
) -> None:
    meta = fakes["meta"]
    meta.fail_next(1_000_000, status=503)  # down until recover()
    server = new_server(forwarding_env(fakes))
    batch = [purchase(server) for _ in range(20)]
    ids = [e["event_id"] for e in batch]
    server.ingest(batch)
    server.ingest(batch[:5])  # re-sent: stored once, no second job
    no_ads = purchase(server, consent={**GRANTED, "ad_user_data": "denied"})
    server.ingest([no_ads, server.event(event_name="page_view")])
    invalid = purchase(server)
    del invalid["order_id"], invalid["properties"]["order_id"]
    assert server.post_events({"events": [invalid]}).status_code == 422

    # the others are delivered while meta is down
    for name in ("ga4", "webhook"):
        wait_for(lambda n=name: delivered(server, n, [*ids, no_ads["event_id"]]), name)
    wait_for(lambda: len(meta.requests) >= 3, "meta retries")
    assert meta.received_event_ids() == []
    assert all(jobs(server)[(i, "meta")]["status"] in ("pending", "inflight") for i in ids)

    meta.recover()
    wait_for(lambda: delivered(server, "meta", ids), "meta after recovery")

    found = jobs(server)
    assert (no_ads["event_id"], "meta") not in found  # consent: no job for ads
    assert {d for (e, d) in found if e == no_ads["event_id"]} == {"ga4", "webhook"}
    assert not any(e == invalid["event_id"] for e, _ in found)  # quarantined: no job
    assert len(found) == 3 * len(ids) + 2
    for name, fake in fakes.items():
        assert fake.errors == [], (name, fake.errors)
        expected = [*ids] + ([] if name == "meta" else [no_ads["event_id"]])
        assert sorted(fake.received_event_ids()) == sorted(dedup_key(name, i) for i in expected)
        assert_no_raw_pii(fake.bodies())

    listed = json.loads(server.cli("outbox", "list", "--destination", "meta", "--format",
                                   "json", "--limit", "100").stdout)  # fmt: skip
    assert {j["status"] for j in listed["jobs"]} == {"delivered"} and len(listed["jobs"]) == 20
    states = json.loads(server.cli("destinations", "list", "--format", "json").stdout)
    meta_state = next(d for d in states["destinations"] if d["destination"] == "meta")
    assert meta_state["enabled"] and meta_state["delivered"] == 20 and not meta_state["paused_at"]


def test_a_permanent_error_is_a_dead_letter_replayed_once_after_the_fix(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform]
) -> None:
    meta = fakes["meta"]
    meta.reject_next(1, message="Invalid OAuth access token")
    server = new_server(forwarding_env(fakes))
    event = purchase(server)
    server.ingest([event])
    key = (event["event_id"], "meta")
    wait_for(lambda: jobs(server).get(key, {}).get("status") == "dead", "the dead letter")
    assert "Invalid OAuth access token" in jobs(server)[key]["last_error"]
    shown = json.loads(server.cli("outbox", "show", event["event_id"]).stdout)
    meta_log = [r for r in shown["log"] if r["destination"] == "meta"]
    assert [(r["outcome"], r["http_status"]) for r in meta_log] == [("dead", 400)]
    assert "Invalid OAuth access token" in meta_log[0]["excerpt"]

    # "fixed": the fake accepts from now on
    assert "1 dead letter(s)" in server.cli("outbox", "replay", "--destination", "meta").stdout
    wait_for(lambda: jobs(server)[key]["status"] == "delivered", "the replayed job")
    assert "0 dead letter(s)" in server.cli("outbox", "replay", "--destination", "meta").stdout
    server.flush()  # one more commit round: nothing else goes out
    assert meta.received_event_ids() == [event["event_id"]]

    verdict = server.cli("destinations", "test", "ga4")  # GA4's debug endpoint validates
    assert verdict.stdout.startswith("ga4: accepted (HTTP 200)"), verdict.stdout
    resumed = server.cli("destinations", "resume", "meta")
    assert resumed.stdout.startswith("meta resumed; 0 job(s) due now"), resumed.stdout


def test_a_crash_mid_delivery_loses_nothing_and_the_lease_is_reclaimed(
    new_server: Callable[..., Server], fakes: dict[str, FakePlatform]
) -> None:
    meta = fakes["meta"]
    meta.hang_next(1)  # the first request never gets an answer
    # A short lease, so the dead worker's jobs come back soon; yet longer than any round of
    # the live worker may take on a loaded machine: a round that outlives its lease has its
    # jobs claimed and sent again by the other round (at least once, but not the exact count
    # asserted below).
    server = new_server(forwarding_env(fakes, CONVTRACK_FORWARD_LEASE_SECONDS="5"))
    batch = [purchase(server) for _ in range(10)]
    ids = [e["event_id"] for e in batch]
    server.ingest(batch)
    wait_for(lambda: len(meta.requests) >= 1, "the hanging request")
    server.kill9()  # mid-delivery: meta's jobs are inflight, leased to a dead worker

    server.start()
    for name in fakes:
        wait_for(lambda n=name: delivered(server, n, ids), f"{name} after the crash")
    found = jobs(server)
    assert all(found[(i, "meta")]["attempts"] >= 2 for i in ids)  # reclaimed, tried again
    for name, fake in fakes.items():
        counts = Counter(fake.received_event_ids())
        # at least once on the wire (the platform dedupes on the id), exactly once in the outbox
        assert set(counts) == {dedup_key(name, i) for i in ids}, name
    assert Counter(meta.received_event_ids()) == Counter(ids)  # the hung request never landed
    server.expected_errors.append("the store process is gone")
