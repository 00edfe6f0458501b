"""Replay: quarantined API and pixel payloads rebuilt, re-checked against the plan, stored once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from convtrack.collect.events_api import quarantine_record
from convtrack.collect.parse import Origin
from convtrack.collect.pixel import hit_to_dict
from convtrack.collect.quarantine import QuarantineDesk
from convtrack.collect.replay import ReplayOptions, rebuild, replay_event_id, replay_rows
from convtrack.enrich.pii import sha256_hex
from convtrack.errors import ConvtrackError
from convtrack.events import Event
from convtrack.plan import CompiledPlan, compile_plan, lint_text
from convtrack.store import EventStore, open_store
from convtrack.store.base import QuarantineFilter

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OPTIONS = ReplayOptions()

STRICT = """\
version: "strict-1"
unknown_events: quarantine
events:
  - name: purchase
    aliases: ["Order Completed"]
    required_identifiers: [email]
    properties:
      order_id: {type: string}
      value: {type: number}
    required: [order_id, value]
"""
FIXED = STRICT.replace('version: "strict-1"', 'version: "fixed-2"').replace(
    "required: [order_id, value]", "required: [value]"
)
PERMISSIVE = 'version: "open-3"\nunknown_events: accept\n'


def compiled(text: str) -> CompiledPlan:
    plan, problems = lint_text(text, "plan.yaml")
    assert plan is not None, problems
    return compile_plan(plan)


def origin(source: str = "server", **kw: Any) -> Origin:
    values: dict[str, Any] = {
        "source": source,
        "key_id": "key_1",
        "trusted": source == "server",
        "ip": "203.0.113.9",
        "user_agent": "agent/1",
        "received_at": T0,
    }
    return Origin(**(values | kw))


def row_of(raw: Any, org: Origin, keep_raw: bool = False, **kw: Any) -> dict[str, Any]:
    """A quarantine row as the store returns it, made by the collector's own code."""
    rej = quarantine_record([{"path": "", "reason": "x"}], raw, org, keep_raw, "strict-1", **kw)
    return {
        "reject_id": rej.reject_id,
        "received_at": rej.received_at,
        "source": rej.source,
        "key_id": rej.key_id,
        "payload": rej.payload,
        "reasons": rej.reasons,
        "event_name": rej.event_name,
        "ip": rej.ip,
        "user_agent": rej.user_agent,
        "batch_sent_at": rej.batch_sent_at,
        "status": "quarantined",
    }


def purchase(**fields: Any) -> dict[str, Any]:
    return {
        "event_name": "Order Completed",
        "event_id": "ev-1",
        "anonymous_id": "anon-1",
        "value": 12.5,
        "identifiers": {"email": " Someone@Example.COM "},
        "timestamp": "2024-05-01T11:59:00Z",
    } | fields


class TestRebuild:
    def test_api_payload_is_rebuilt_as_it_arrived(self) -> None:
        row = row_of(purchase(), origin(), batch_sent_at=T0 - timedelta(seconds=30))
        assert isinstance(rebuild(row, compiled(STRICT), OPTIONS), list)  # still no order_id
        event = rebuild(row, compiled(FIXED), OPTIONS)
        assert isinstance(event, Event)
        assert event.event_id == "ev-1" and event.event_name == "purchase"  # alias resolved
        assert event.plan_version == "fixed-2"
        assert event.source == "server" and event.key_id == "key_1"
        assert event.received_at == T0
        # clock skew corrected with the batch's sent_at, as at ingest
        assert event.occurred_at == T0 - timedelta(seconds=30)
        assert (event.context.ip, event.context.user_agent) == ("203.0.113.9", "agent/1")
        assert event.value == 12.5 and event.currency == "USD"

    def test_scrubbed_identifiers_hash_to_the_same_value(self) -> None:
        row = row_of(purchase(), origin())
        assert "Someone" not in row["payload"]  # the quarantine kept only the hash
        event = rebuild(row, compiled(FIXED), ReplayOptions(keep_raw=True))
        assert isinstance(event, Event)
        assert event.hashed.email_sha256 == sha256_hex("someone@example.com")
        assert event.identifiers is None  # a hash is never kept as a "raw" identifier

    def test_raw_identifiers_kept_when_configured(self) -> None:
        row = row_of(purchase(), origin(), keep_raw=True)
        event = rebuild(row, compiled(FIXED), ReplayOptions(keep_raw=True))
        assert isinstance(event, Event)
        assert event.hashed.email_sha256 == sha256_hex("someone@example.com")
        assert event.identifiers is not None and event.identifiers.email

    def test_identifiers_quarantine_could_not_keep_stay_quarantined(self) -> None:
        row = row_of(purchase(identifiers={"email": 5}), origin())
        reasons = rebuild(row, compiled(PERMISSIVE), OPTIONS)
        assert reasons == [
            {
                "path": "/identifiers/email",
                "reason": "was not a string; quarantine kept no copy of it",
            }
        ]
        row = row_of(purchase(identifiers="someone@example.com"), origin())
        reasons = rebuild(row, compiled(PERMISSIVE), OPTIONS)
        assert isinstance(reasons, list) and reasons[0]["path"] == "/identifiers"

    def test_pixel_payload(self) -> None:
        params = [("e", "Order Completed"), ("a", "anon-9"), ("v", "7.25"), ("em", "p@x.io")]
        params += [("oid", "o-1"), ("gclid", "G-1")]
        raw = hit_to_dict(params, "https://shop.example/thanks")
        row = row_of(raw, origin("pixel"))
        event = rebuild(row, compiled(FIXED), OPTIONS)
        assert isinstance(event, Event)
        assert event.source == "pixel" and event.value == 7.25 and event.order_id == "o-1"
        assert event.campaign.gclid == "G-1"
        assert event.context.url == "https://shop.example/thanks"
        assert event.event_id == replay_event_id(row["reject_id"])  # no id in the hit

    def test_untrusted_sources_keep_the_request_ip(self) -> None:
        raw = purchase(context={"ip": "198.51.100.1"})
        event = rebuild(row_of(raw, origin("tag")), compiled(FIXED), OPTIONS)
        assert isinstance(event, Event) and event.context.ip == "203.0.113.9"
        event = rebuild(row_of(raw, origin("server")), compiled(FIXED), OPTIONS)
        assert isinstance(event, Event) and event.context.ip == "198.51.100.1"

    def test_deterministic_id_for_events_sent_without_one(self) -> None:
        raw = purchase()
        del raw["event_id"]
        row = row_of(raw, origin())
        first = rebuild(row, compiled(FIXED), OPTIONS)
        second = rebuild(row, compiled(FIXED), OPTIONS)
        assert isinstance(first, Event) and isinstance(second, Event)
        assert first.event_id == second.event_id == replay_event_id(row["reject_id"])
        assert replay_event_id("other") != first.event_id

    def test_payloads_that_never_decoded_still_fail(self) -> None:
        row = row_of(purchase(value="12.50"), origin())
        reasons = rebuild(row, compiled(PERMISSIVE), OPTIONS)
        assert isinstance(reasons, list) and reasons[0]["path"] == "/value"
        row = row_of(["not", "an", "object"], origin())
        assert isinstance(rebuild(row, compiled(PERMISSIVE), OPTIONS), list)

    def test_unsupported_source(self) -> None:
        row = row_of(purchase(), origin("fax"))
        reasons = rebuild(row, compiled(PERMISSIVE), OPTIONS)
        assert reasons == [{"path": "", "reason": "events from source 'fax' cannot be replayed"}]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    store = open_store(f"duckdb://{tmp_path / 'replay.duckdb'}")
    store.migrate()
    yield store
    store.close()


def quarantine(store: EventStore, *raws: dict[str, Any]) -> list[str]:
    rejected = []
    for raw in raws:
        org = origin()
        rejected.append(
            quarantine_record([{"path": "/x", "reason": "old"}], raw, org, False, "strict-1")
        )
    store.append([], rejected)
    return [r.reject_id for r in rejected]


class TestReplayRows:
    def test_replay_twice_stores_once(self, store: EventStore) -> None:
        no_id = purchase()
        del no_id["event_id"]
        quarantine(store, purchase(), no_id, purchase(event_id="ev-2", value="bad"))
        rows = store.list_quarantined(QuarantineFilter(), 10)
        first = replay_rows(store, rows, compiled(FIXED), OPTIONS)
        assert sorted(o.status for o in first) == ["replayed", "replayed", "still_invalid"]
        assert store.count_events() == 2
        again = replay_rows(store, rows, compiled(FIXED), OPTIONS)
        assert sorted(o.status for o in again) == ["not_quarantined"] * 2 + ["still_invalid"]
        assert store.count_events() == 2
        ids = store.query("SELECT event_id, plan_version FROM events ORDER BY 1").rows
        assert {r[1] for r in ids} == {"fixed-2"}

    def test_dry_run_writes_nothing(self, store: EventStore) -> None:
        quarantine(store, purchase())
        rows = store.list_quarantined(QuarantineFilter(), 10)
        [outcome] = replay_rows(store, rows, compiled(FIXED), OPTIONS, dry_run=True)
        assert (outcome.status, outcome.event_id, outcome.event_name) == (
            "would_replay",
            "ev-1",
            "purchase",
        )
        assert store.count_events() == 0
        assert store.list_quarantined(QuarantineFilter(status="quarantined"), 10)


class TestDesk:
    def test_list_show_replay(self, store: EventStore) -> None:
        plan = compiled(STRICT)
        desk = QuarantineDesk(store, lambda: plan, OPTIONS)
        [good, bad] = quarantine(store, purchase(), purchase(event_id="ev-2", value="x"))
        listed = desk.find(QuarantineFilter(), 10)
        assert {r["reject_id"] for r in listed["rows"]} == {good, bad}
        assert "payload" not in listed["rows"][0]
        assert listed["top_reasons"] == [{"path": "/x", "reason": "old", "count": 2}]
        shown = desk.show(good)
        assert shown["payload"]["event_id"] == "ev-1"
        assert isinstance(shown["received_at"], str)
        json.dumps(shown)
        with pytest.raises(ConvtrackError) as err:
            desk.show("nope")
        assert err.value.status == 404

        result = desk.replay([good, "nope"])
        assert result["counts"] == {"still_invalid": 1, "not_found": 1}
        assert "order_id" in result["outcomes"][1]["reasons"][0]["reason"]
        plan = compiled(FIXED)  # the plan is fixed: the desk asks for it again
        result = desk.replay([], replay_all=True)
        assert result["counts"] == {"replayed": 1, "still_invalid": 1}
        assert result["plan_version"] == "fixed-2"
        assert desk.replay([good])["counts"] == {"not_quarantined": 1}
        assert desk.replay([], replay_all=True)["counts"] == {"still_invalid": 1}
        assert store.count_events() == 1
        with pytest.raises(ConvtrackError):
            desk.replay([])
