"""Alerts: conditions from a real store, posted to a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from convtrack.config import Settings
from convtrack.qa.alerts import SIGNATURE_HEADER, Alerter, check
from convtrack.store import EventStore


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
    alerter = Alerter.from_settings(settings)
    first = asyncio.run(alerter.run_once(store, settings))
    again = asyncio.run(alerter.run_once(store, settings))  # still paused: no repeat
    assert [a["kind"] for a in first] == ["destination_paused"] and again == []
    assert first[0]["webhook"] == "sent" and len(receiver.received) == 1
    headers, body = receiver.received[0]
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == "sha256=" + digest
    sent = json.loads(body)
    assert sent["alerts"][0]["details"]["destination"] == "meta"
    assert alerter.listing()["alerts"][0]["key"] == first[0]["key"]
    store.resume_destination("meta", datetime.now(UTC))
    assert asyncio.run(alerter.run_once(store, settings)) == []
    assert alerter.listing()["active"] == []


def test_retries_are_bounded_and_never_raise(store: EventStore, receiver: Receiver) -> None:
    store.pause_destination("ga4", "down", datetime.now(UTC))
    receiver.statuses = [503, 503, 503, 503]
    alerter = Alerter(url=receiver.url, attempts=3, backoff_seconds=0.01)
    alerts = asyncio.run(alerter.run_once(store, Settings()))
    assert len(receiver.received) == 3 and alerts[0]["webhook"] == "failed"
    receiver.received.clear()
    receiver.statuses = [400]  # not retried
    nowhere = Alerter(url=receiver.url, attempts=3, backoff_seconds=0.01)
    assert asyncio.run(nowhere.post([{"key": "k", "webhook": "pending"}])) is False
    assert len(receiver.received) == 1
    closed = Alerter(url="http://127.0.0.1:9/closed", attempts=2, backoff_seconds=0.01)
    assert asyncio.run(closed.post([{"key": "k", "webhook": "pending"}])) is False


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
