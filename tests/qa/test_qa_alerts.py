"""Alerts: conditions from a real store, kept in it and posted to a real HTTP receiver on
loopback — once per condition, however many nodes share the store."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from convtrack.config import Settings
from convtrack.qa.alerts import LEASE, SIGNATURE_HEADER, Alerter, Condition, check
from convtrack.store import EventStore, open_store


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 204); records them."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.http.shutdown()
        r.http.server_close()


def test_a_paused_destination_alerts_once_signed(store: EventStore, receiver: Receiver) -> None:
    store.pause_destination("meta", "50 failures in a row", datetime.now(UTC))
    settings = Settings(alert_webhook_url=receiver.url, alert_webhook_secret="s3cret")
    alerter = Alerter.from_settings(settings, store)
    first = asyncio.run(alerter.run_once(settings))
    again = asyncio.run(alerter.run_once(settings))  # still paused: no repeat
    assert [a["kind"] for a in first] == ["destination_paused"] and again == []
    assert first[0]["webhook"] == "sent" and len(receiver.received) == 1
    stored = store.list_alerts(10)[0]
    assert (stored.webhook_status, stored.webhook_attempts) == ("sent", 1)
    headers, body = receiver.received[0]
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == "sha256=" + digest
    sent = json.loads(body)
    assert sent["alerts"][0]["details"]["destination"] == "meta"
    assert "cleared_at" not in sent["alerts"][0]  # it holds
    listed = alerter.listing()
    assert listed["alerts"][0]["key"] == first[0]["key"] and listed["active"] == [first[0]["key"]]
    store.resume_destination("meta", datetime.now(UTC))
    assert asyncio.run(alerter.run_once(settings)) == []
    listed = alerter.listing()
    assert listed["active"] == [] and listed["alerts"][0]["cleared_at"] is not None


def test_retries_are_bounded_and_never_raise(store: EventStore, receiver: Receiver) -> None:
    store.pause_destination("ga4", "down", datetime.now(UTC))
    receiver.statuses = [503, 503, 503, 503]
    alerter = Alerter(store, url=receiver.url, attempts=3, backoff_seconds=0.01)
    alerts = asyncio.run(alerter.run_once(Settings()))
    assert len(receiver.received) == 3 and alerts[0]["webhook"] == "failed"
    stored = store.list_alerts(10)[0]
    assert (stored.webhook_status, stored.webhook_attempts) == ("failed", 3)
    assert stored.webhook_error == "HTTP 503"
    receiver.received.clear()
    receiver.statuses = [400]  # not retried
    nowhere = Alerter(store, url=receiver.url, attempts=3, backoff_seconds=0.01)
    assert asyncio.run(nowhere.post([{"key": "k", "webhook": "pending"}])) is False
    assert len(receiver.received) == 1
    closed = Alerter(store, url="http://127.0.0.1:9/closed", attempts=2, backoff_seconds=0.01)
    assert asyncio.run(closed.post([{"key": "k", "webhook": "pending"}])) is False


def test_two_nodes_on_one_store_post_once_and_list_the_same(
    store: EventStore, receiver: Receiver
) -> None:
    # Two collectors sharing the store: on PostgreSQL a second connection, as another node has.
    other = store if store.url.startswith("duckdb") else open_store(store.url)
    try:
        store.pause_destination("meta", "down", datetime.now(UTC))
        settings = Settings(alert_webhook_url=receiver.url)
        node_a = Alerter.from_settings(settings, store)
        node_b = Alerter.from_settings(settings, other)

        async def both() -> list[list[dict[str, Any]]]:
            return list(await asyncio.gather(node_a.run_once(settings), node_b.run_once(settings)))

        raised = asyncio.run(both())
        assert sorted(len(r) for r in raised) == [0, 1] and len(receiver.received) == 1
        assert asyncio.run(both()) == [[], []] and len(receiver.received) == 1
        assert node_a.listing() == node_b.listing()
        assert node_b.listing()["active"] == [next(r for r in raised if r)[0]["key"]]
        # Cleared, then back: it alerts again, once.
        store.resume_destination("meta", datetime.now(UTC))
        asyncio.run(both())
        store.pause_destination("meta", "down again", datetime.now(UTC))
        assert sorted(len(r) for r in asyncio.run(both())) == [0, 1]
        assert len(receiver.received) == 2
        assert len(node_b.listing()["alerts"]) == 2
    finally:
        if other is not store:
            other.close()


def test_a_condition_that_clears_and_returns_alerts_again(store: EventStore) -> None:
    alerter = Alerter(store)  # no webhook: alerts are still raised and listed
    condition = Condition("k", "anomaly", "too many", {"n": 5})
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert [a["webhook"] for a in alerter.fresh([condition], at)] == ["not_configured"]
    assert alerter.fresh([condition], at + timedelta(minutes=5)) == []
    assert alerter.fresh([], at + timedelta(minutes=10)) == []  # cleared
    again = alerter.fresh([condition], at + timedelta(minutes=15))
    assert [a["raised_at"] for a in again] == ["2026-03-02T12:15:00Z"]
    listed = alerter.listing()["alerts"]
    assert [(a["key"], a["cleared_at"]) for a in listed] == [
        ("k", None),
        ("k", "2026-03-02T12:10:00Z"),
    ]
    assert listed[0]["details"] == {"n": 5}
    alerter.fresh([condition], at + timedelta(days=31))  # past KEEP_DAYS: the closed one goes
    assert len(alerter.listing()["alerts"]) == 1


def test_dead_letter_surge_needs_the_threshold(store: EventStore) -> None:
    from convtrack.store.outbox_model import Attempt
    from qa_events import ev

    events = [ev(f"d{i}", datetime.now(UTC), type="conversion") for i in range(3)]
    for e in events:
        e.deliveries = [("tiktok", "purchase", "CompletePayment")]
    store.append(events)
    jobs = store.claim_jobs("tiktok", 10, 60, datetime.now(UTC))
    store.complete_jobs("tiktok", [Attempt(j.job_id, j.event_id, "dead", 1) for j in jobs])
    kinds = [c.kind for c in check(store, Settings(alert_dead_letters=3))]
    assert kinds == ["dead_letter_surge"]
    assert check(store, Settings(alert_dead_letters=4)) == []


def test_an_alert_left_pending_by_a_stopped_node_is_posted_by_one_other(
    store: EventStore, receiver: Receiver
) -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    store.pause_destination("meta", "down", at)
    now = [at]
    nodes = [store] if store.url.startswith("duckdb") else [open_store(store.url) for _ in "bc"]
    try:
        settings = Settings(alert_webhook_url=receiver.url)
        crashed = Alerter.from_settings(settings, store)
        raised = crashed.fresh(check(store, settings, at), at)  # raised, then it stopped
        assert [a["webhook"] for a in raised] == ["pending"]
        others = [
            Alerter(nodes[i % len(nodes)], url=receiver.url, clock=lambda: now[0]) for i in range(3)
        ]

        async def all_check() -> list[list[dict[str, Any]]]:
            return list(await asyncio.gather(*(o.run_once(settings) for o in others)))

        now[0] = at + LEASE - timedelta(seconds=1)  # the raiser's claim still holds
        assert asyncio.run(all_check()) == [[], [], []] and receiver.received == []
        now[0] = at + LEASE
        posted = asyncio.run(all_check())
        assert sorted(len(p) for p in posted) == [0, 0, 1] and len(receiver.received) == 1
        sent = json.loads(receiver.received[0][1])["alerts"]
        assert [a["key"] for a in sent] == [raised[0]["key"]]
        stored = store.list_alerts(10)
        assert [(a.webhook_status, a.claimed_at) for a in stored] == [("sent", at + LEASE)]
        now[0] = at + 3 * LEASE
        assert asyncio.run(all_check()) == [[], [], []] and len(receiver.received) == 1
    finally:
        for node in nodes:
            if node is not store:
                node.close()


def test_an_alert_that_cleared_before_anyone_posted_it_is_posted_as_cleared(
    store: EventStore, receiver: Receiver
) -> None:
    at = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    store.pause_destination("meta", "down", at)
    settings = Settings(alert_webhook_url=receiver.url)
    crashed = Alerter.from_settings(settings, store)
    raised = crashed.fresh(check(store, settings, at), at)  # raised, then it stopped
    store.resume_destination("meta", at + timedelta(seconds=30))
    other = Alerter(store, url=receiver.url, clock=lambda: at + LEASE)
    posted = asyncio.run(other.run_once(settings))  # clears it, then takes it over
    assert [a["key"] for a in posted] == [raised[0]["key"]]
    sent = json.loads(receiver.received[0][1])["alerts"]
    assert [(a["key"], a["cleared_at"]) for a in sent] == [
        (raised[0]["key"], "2026-03-02T12:02:00Z")
    ]
    assert [a.webhook_status for a in store.list_alerts(10)] == ["sent"]


def test_the_lease_outlasts_a_post_with_all_its_retries(store: EventStore) -> None:
    assert Alerter(store).claim_lease() == LEASE  # 3 x 10 s, pauses 1 + 2 s: well inside
    slow = Alerter(store, attempts=5, timeout_seconds=30, backoff_seconds=2)
    assert slow.claim_lease() >= timedelta(seconds=5 * 30 + 2 + 4 + 8 + 16)
