"""Quarantined Snowplow events: a mapped one replays, an undecodable one stays refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from convtrack.collect.parse import Invalid, Origin, issue
from convtrack.collect.pipeline import quarantine_record
from convtrack.collect.replay import ReplayOptions, rebuild
from convtrack.collect.snowplow_map import to_item
from convtrack.events import Event
from convtrack.plan import CompiledPlan, compile_plan, lint_text

ORIGIN = Origin(
    "snowplow", "key_1", False, "203.0.113.9", "agent/1", datetime(2024, 5, 1, tzinfo=UTC)
)
BASE = {"tv": "js-3", "p": "web", "eid": "sp-1", "duid": "d-1", "dtm": "1714564740000"}
PLAN = 'version: "open-1"\nunknown_events: accept\n'


def compiled(text: str) -> CompiledPlan:
    plan, problems = lint_text(text, "plan.yaml")
    assert plan is not None, problems
    return compile_plan(plan)


def row(raw: Any) -> dict[str, Any]:
    rej = quarantine_record([issue(None, "", "x")], raw, ORIGIN, False, "old")
    return {"reject_id": rej.reject_id, "received_at": rej.received_at, "source": rej.source,
            "key_id": rej.key_id, "payload": rej.payload, "ip": rej.ip,
            "user_agent": rej.user_agent, "batch_sent_at": None}  # fmt: skip


def test_a_mapped_transaction_replays_as_a_purchase() -> None:
    item = to_item({**BASE, "e": "tr", "tr_id": "o-1", "tr_tt": "9.5", "tr_cu": "eur"}, None)
    assert not isinstance(item, Invalid)
    event = rebuild(row(msgspec.to_builtins(item)), compiled(PLAN), ReplayOptions())
    assert isinstance(event, Event), event
    assert (event.event_name, event.order_id, event.value, event.source) == (
        "purchase", "o-1", 9.5, "snowplow")  # fmt: skip
    assert (event.currency, event.event_id, event.anonymous_id) == ("EUR", "sp-1", "d-1")


def test_an_undecodable_event_stays_in_quarantine_with_a_reason() -> None:
    item = to_item({**BASE, "e": "ue", "ue_px": "%%%"}, None)
    assert isinstance(item, Invalid)
    reasons = rebuild(row(item.raw), compiled(PLAN), ReplayOptions())
    assert isinstance(reasons, list) and "snowplow" in reasons[0]["path"], reasons
