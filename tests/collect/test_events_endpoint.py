"""``POST /v1/events`` as a raw ASGI callable: error headers and what reaches quarantine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from convtrack.collect.auth import KeyRing
from convtrack.collect.events_api import EventsEndpoint
from convtrack.config import Settings
from convtrack.keys import create_key
from convtrack.plan.active import ActivePlan
from convtrack.store import EventStore
from convtrack.store.writer import GroupCommitWriter


@pytest.fixture
def endpoint(key_store: EventStore) -> Iterator[EventsEndpoint]:
    writer = GroupCommitWriter(key_store, interval=0)
    writer.start()
    yield EventsEndpoint(
        Settings(default_region="US"), KeyRing(key_store), writer, ActivePlan.load("")
    )
    writer.stop()


def call(
    endpoint: EventsEndpoint, headers: dict[str, str], body: bytes = b"{}", method: str = "POST"
) -> tuple[int, dict[str, str], Any]:
    scope = {
        "type": "http", "method": method, "path": "/v1/events", "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("192.0.2.10", 5000),
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(endpoint(scope, receive, send))
    start, body_msg = sent
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, json.loads(body_msg["body"] or b"null")


def test_cors_headers_of_one_error_do_not_stick_to_the_next(endpoint: EventsEndpoint) -> None:
    status, headers, body = call(endpoint, {"origin": "https://a.example"})
    assert status == 401 and body["error"]["code"] == "missing_key"
    assert headers["access-control-allow-origin"] == "https://a.example"

    status, headers, _ = call(endpoint, {})
    assert status == 401
    assert "access-control-allow-origin" not in headers

    _, headers, _ = call(endpoint, {"origin": "https://b.example"})
    assert headers["access-control-allow-origin"] == "https://b.example"


def test_quarantined_events_keep_no_raw_pii(
    endpoint: EventsEndpoint, key_store: EventStore
) -> None:
    _, key = create_key(key_store, "web", "public")
    endpoint.keys.reload()
    bad = {"events": [
        {"event_name": "lead", "identifiers": {"email": "Jane@Example.com"}, "currency": "XYZ"},
        {"event_name": "lead", "identifiers": "jane@example.com", "anonymous_id": "a"},
    ]}  # fmt: skip
    status, _, body = call(endpoint, {"authorization": f"Bearer {key}"}, json.dumps(bad).encode())
    assert status == 422 and body["error"]["code"] == "no_valid_events"
    assert [d["index"] for d in body["error"]["details"]] == [0, 1]
    payloads = [r[0] for r in key_store.query("SELECT payload FROM quarantine").rows]
    assert len(payloads) == 2
    assert not any("jane@example.com" in p.lower() for p in payloads)
