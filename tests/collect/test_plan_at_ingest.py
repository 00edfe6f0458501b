"""The tracking plan in the ingest path: ``POST /v1/events`` and the pixel hold every event to it.

A small plan is written to a real file; the endpoints run as raw ASGI callables on a real
DuckDB store through the group-commit writer, and the tests read what was stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from convtrack.collect.auth import KeyRing
from convtrack.collect.events_api import EventsEndpoint
from convtrack.collect.pixel import PixelEndpoint
from convtrack.config import Settings
from convtrack.keys import create_key
from convtrack.plan.active import ActivePlan
from convtrack.store import EventStore
from convtrack.store.writer import GroupCommitWriter

PLAN = """\
version: "t1"
unknown_events: {policy}
events:
  - name: purchase
    aliases: ["Order Completed"]
    properties:
      order_id: {{type: string, minLength: 1}}
      value: {{type: number, minimum: 0}}
      coupon: {{type: string, maxLength: 8}}
    required: [order_id]
"""


@dataclass
class Ingest:
    """Both ingest endpoints over one store, with a public and a secret key."""

    store: EventStore
    writer: GroupCommitWriter
    events: EventsEndpoint
    pixel: PixelEndpoint
    public_key: str
    secret_key: str

    def post(self, body: Any) -> tuple[int, Any]:
        scope = _scope("POST", "/v1/events", b"", {"authorization": f"Bearer {self.secret_key}"})
        return _run(self.events, scope, json.dumps(body).encode())

    def hit(self, **params: str) -> None:
        query = urlencode({"k": self.public_key, "a": "a1", **params}).encode()
        status, _ = _run(self.pixel, _scope("GET", "/p.gif", query, {}), b"", raw=True)
        assert status == 200
        asyncio.run(self.writer.write([], []))  # committed in queue order: the hit is in

    def rows(self, sql: str) -> list[dict[str, Any]]:
        result = self.store.query(sql)
        return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _scope(method: str, path: str, query: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http", "method": method, "path": path, "query_string": query,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("192.0.2.10", 5000),
    }  # fmt: skip


def _run(app: Any, scope: dict[str, Any], body: bytes, raw: bool = False) -> tuple[int, Any]:
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, body_msg = sent
    return start["status"], body_msg["body"] if raw else json.loads(body_msg["body"])


@pytest.fixture
def ingest(tmp_path: Path, key_store: EventStore) -> Iterator[Callable[[str], Ingest]]:
    """``ingest(policy)``: endpoints checking against PLAN with that unknown-events policy."""
    writers: list[GroupCommitWriter] = []

    def make(policy: str = "warn") -> Ingest:
        path = tmp_path / "plan.yaml"
        path.write_text(PLAN.format(policy=policy))
        plan = ActivePlan.load(str(path))
        writer = GroupCommitWriter(key_store, interval=0)
        writer.start()
        writers.append(writer)
        _, public = create_key(key_store, f"web-{len(writers)}", "public")
        _, secret = create_key(key_store, f"be-{len(writers)}", "secret")
        keys = KeyRing(key_store)
        settings = Settings(default_region="US")
        return Ingest(
            key_store,
            writer,
            EventsEndpoint(settings, keys, writer, plan),
            PixelEndpoint(settings, keys, writer, plan),
            public,
            secret,
        )

    yield make
    for writer in writers:
        writer.stop()


def purchase(**fields: Any) -> dict[str, Any]:
    return {"event_name": "purchase", "anonymous_id": "a1", **fields}


def test_an_alias_is_stored_under_its_canonical_name_with_the_plan_version(
    ingest: Callable[[str], Ingest],
) -> None:
    app = ingest("warn")
    event = purchase(event_name="Order Completed", event_id="ev-1", order_id="o-1", value=5)
    status, body = app.post(event)
    assert (status, body) == (200, {"accepted": 1, "rejected": 0, "errors": [], "warnings": []})
    rows = app.rows("SELECT event_name, plan_version FROM events WHERE event_id = 'ev-1'")
    assert rows == [{"event_name": "purchase", "plan_version": "t1"}]


def test_invalid_properties_are_reported_per_event_and_quarantined_with_reasons(
    ingest: Callable[[str], Ingest],
) -> None:
    app = ingest("warn")
    good = purchase(event_id="ev-good", order_id="o-1", value=5)
    bad = purchase(event_id="ev-bad", value=-1, properties={"coupon": "WAY-TOO-LONG"})
    status, body = app.post({"events": [good, bad]})
    assert status == 200
    assert (body["accepted"], body["rejected"], body["warnings"]) == (1, 1, [])
    assert {(e["index"], e["path"]) for e in body["errors"]} == {
        (1, "/order_id"),  # order_id is required (a top-level field)
        (1, "/value"),  # a lifted top-level field is pointed at where it was sent
        (1, "/properties/coupon"),
    }
    assert all(e["reason"] for e in body["errors"])

    rows = app.rows("SELECT payload, reasons, plan_version, source FROM quarantine")
    assert len(rows) == 1
    row = rows[0]
    assert json.loads(row["reasons"]) == body["errors"]
    assert row["plan_version"] == "t1" and row["source"] == "server"
    assert json.loads(row["payload"])["event_id"] == "ev-bad"
    stored = app.rows("SELECT event_id FROM events")
    assert stored == [{"event_id": "ev-good"}]


def test_a_request_with_only_invalid_events_is_a_422_with_every_reason(
    ingest: Callable[[str], Ingest],
) -> None:
    app = ingest("warn")
    status, body = app.post(purchase(value=3))
    assert status == 422 and body["error"]["code"] == "no_valid_events"
    assert body["error"]["details"] == [
        {"path": "/order_id", "reason": "'order_id' is a required property"}
    ]
    assert app.store.count_quarantined() == 1


def test_unknown_event_policy_accept_stores_it_silently(ingest: Callable[[str], Ingest]) -> None:
    app = ingest("accept")
    status, body = app.post(
        {"events": [{"event_name": "mystery", "event_id": "m1", "anonymous_id": "a"}]}
    )
    assert (status, body) == (200, {"accepted": 1, "rejected": 0, "errors": [], "warnings": []})
    assert app.rows("SELECT event_name, plan_version FROM events") == [
        {"event_name": "mystery", "plan_version": "t1"}
    ]


def test_unknown_event_policy_warn_stores_it_and_says_so(ingest: Callable[[str], Ingest]) -> None:
    app = ingest("warn")
    status, body = app.post(
        {"events": [purchase(order_id="o"), {"event_name": "mystery", "anonymous_id": "a"}]}
    )
    assert status == 200 and (body["accepted"], body["rejected"], body["errors"]) == (2, 0, [])
    assert body["warnings"] == [
        {"index": 1, "path": "/event_name", "reason": "'mystery' is not in tracking plan t1"}
    ]
    assert app.store.count_events() == 2


def test_unknown_event_policy_quarantine_keeps_it_out_of_events(
    ingest: Callable[[str], Ingest],
) -> None:
    app = ingest("quarantine")
    status, body = app.post(
        {"events": [purchase(order_id="o"), {"event_name": "mystery", "anonymous_id": "a"}]}
    )
    assert status == 200 and (body["accepted"], body["rejected"]) == (1, 1)
    assert [(e["index"], e["path"]) for e in body["errors"]] == [(1, "/event_name")]
    rows = app.rows("SELECT payload, plan_version FROM quarantine")
    assert [json.loads(r["payload"])["event_name"] for r in rows] == ["mystery"]
    assert rows[0]["plan_version"] == "t1"


def test_pixel_hits_are_checked_too(ingest: Callable[[str], Ingest]) -> None:
    app = ingest("warn")
    app.hit(e="Order Completed", id="px-1", oid="o-9", v="12.5")
    app.hit(e="purchase", id="px-2", v="3")  # no order id
    assert app.rows("SELECT event_id, event_name, plan_version, source FROM events") == [
        {"event_id": "px-1", "event_name": "purchase", "plan_version": "t1", "source": "pixel"}
    ]
    rows = app.rows("SELECT payload, reasons, plan_version FROM quarantine")
    assert len(rows) == 1
    assert json.loads(rows[0]["payload"])["event_id"] == "px-2"
    assert json.loads(rows[0]["reasons"]) == [
        {"path": "/order_id", "reason": "'order_id' is a required property"}
    ]
    assert rows[0]["plan_version"] == "t1"


def test_a_reloaded_plan_applies_to_the_next_request(
    ingest: Callable[[str], Ingest], tmp_path: Path
) -> None:
    app = ingest("quarantine")
    status, _ = app.post({"event_name": "refund", "event_id": "r1", "anonymous_id": "a"})
    assert status == 422
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(
        PLAN.format(policy="quarantine").replace('"t1"', '"t2"') + "  - name: refund\n"
    )
    app.events.plan.reload("test")
    status, body = app.post({"event_name": "refund", "event_id": "r1", "anonymous_id": "a"})
    assert status == 200 and body["accepted"] == 1
    assert app.rows("SELECT plan_version FROM events WHERE event_id = 'r1'") == [
        {"plan_version": "t2"}
    ]
