"""Quarantine listing, lookup and the atomic replay step, for every ``EventStore`` backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from convtrack.events import Event, Rejected
from convtrack.store import EventStore
from convtrack.store.base import QuarantineFilter

Make = Callable[..., Event]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALL = QuarantineFilter()


def reject(reject_id: str, minutes: int = 0, **fields: Any) -> Rejected:
    values: dict[str, Any] = {
        "received_at": T0 + timedelta(minutes=minutes),
        "source": "server",
        "payload": json.dumps({"event_name": "purchase", "anonymous_id": "a"}),
        "reasons": [
            {"path": "/properties/order_id", "reason": "'order_id' is a required property"}
        ],
        "key_id": "key_sec",
        "event_name": "purchase",
        "ip": "203.0.113.9",
        "user_agent": "curl/8",
    }
    return Rejected(reject_id=reject_id, **(values | fields))


@pytest.fixture
def filled(store: EventStore) -> EventStore:
    store.append(
        [],
        [
            reject("r1", 0),
            reject("r2", 1, source="pixel"),
            reject("r3", 2, reasons=[{"path": "/value", "reason": "Expected `float`"}]),
            reject("r4", 3, batch_sent_at=T0),
        ],
    )
    return store


def rids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["reject_id"] for r in rows]


class TestList:
    def test_newest_first_with_every_column(self, filled: EventStore) -> None:
        rows = filled.list_quarantined(ALL, 10)
        assert rids(rows) == ["r4", "r3", "r2", "r1"]
        r1 = rows[-1]
        assert r1["status"] == "quarantined" and r1["replayed_at"] is None
        assert r1["replayed_event_id"] is None
        assert (r1["ip"], r1["user_agent"], r1["event_name"]) == (
            "203.0.113.9",
            "curl/8",
            "purchase",
        )
        assert r1["reasons"] == [
            {"path": "/properties/order_id", "reason": "'order_id' is a required property"}
        ]
        assert r1["received_at"] == T0 and rows[0]["batch_sent_at"] == T0
        assert json.loads(r1["payload"])["event_name"] == "purchase"

    def test_filters(self, filled: EventStore) -> None:
        assert rids(filled.list_quarantined(QuarantineFilter(source="pixel"), 10)) == ["r2"]
        since = QuarantineFilter(since=T0 + timedelta(minutes=2))
        assert rids(filled.list_quarantined(since, 10)) == ["r4", "r3"]
        assert rids(filled.list_quarantined(QuarantineFilter(reason="FLOAT"), 10)) == ["r3"]
        by_path = QuarantineFilter(reason="/properties/order")
        assert rids(filled.list_quarantined(by_path, 10)) == ["r4", "r2", "r1"]
        assert filled.list_quarantined(QuarantineFilter(status="replayed"), 10) == []
        assert rids(filled.list_quarantined(ALL, 2)) == ["r4", "r3"]
        page = QuarantineFilter(before=(T0 + timedelta(minutes=2), "r3"))
        assert rids(filled.list_quarantined(page, 10)) == ["r2", "r1"]

    def test_top_reasons(self, filled: EventStore) -> None:
        assert filled.quarantine_reasons(ALL, 10) == [
            ("/properties/order_id", "'order_id' is a required property", 3),
            ("/value", "Expected `float`", 1),
        ]
        assert filled.quarantine_reasons(QuarantineFilter(source="pixel"), 10) == [
            ("/properties/order_id", "'order_id' is a required property", 1)
        ]
        assert len(filled.quarantine_reasons(ALL, 1)) == 1

    def test_get(self, filled: EventStore) -> None:
        row = filled.get_quarantined("r2")
        assert row is not None and row["source"] == "pixel"
        assert filled.get_quarantined("nope") is None


class TestReplay:
    def test_stores_events_and_marks_rows_in_one_step(
        self, filled: EventStore, event: Make
    ) -> None:
        got = filled.replay_quarantined([("r1", event("e1")), ("r2", event("e2"))])
        assert got == {"r1": "new", "r2": "new"}
        assert filled.count_events() == 2
        row = filled.get_quarantined("r1")
        assert row is not None
        assert row["status"] == "replayed" and row["replayed_event_id"] == "e1"
        assert row["replayed_at"] is not None
        replayed = filled.list_quarantined(QuarantineFilter(status="replayed"), 10)
        assert rids(replayed) == ["r2", "r1"]
        assert filled.count_quarantined() == 4  # rows are kept, only marked

    def test_twice_stores_nothing_twice(self, filled: EventStore, event: Make) -> None:
        assert filled.replay_quarantined([("r1", event("e1"))]) == {"r1": "new"}
        assert filled.replay_quarantined([("r1", event("e1"))]) == {"r1": "skipped"}
        assert filled.replay_quarantined([("r1", event("other"))]) == {"r1": "skipped"}
        assert filled.count_events() == 1

    def test_an_event_already_stored_is_not_stored_again(
        self, filled: EventStore, event: Make
    ) -> None:
        filled.append([event("e1")])
        got = filled.replay_quarantined([("r1", event("e1")), ("r2", event("e1"))])
        assert got == {"r1": "duplicate", "r2": "duplicate"}
        assert filled.count_events() == 1
        assert rids(filled.list_quarantined(QuarantineFilter(status="quarantined"), 10)) == [
            "r4",
            "r3",
        ]

    def test_same_event_in_two_rows_is_stored_once(self, filled: EventStore, event: Make) -> None:
        got = filled.replay_quarantined([("r1", event("e1")), ("r2", event("e1"))])
        assert got == {"r1": "new", "r2": "duplicate"}
        assert filled.count_events() == 1

    def test_unknown_rows_are_skipped(self, filled: EventStore, event: Make) -> None:
        assert filled.replay_quarantined([("nope", event("e1"))]) == {"nope": "skipped"}
        assert filled.count_events() == 0
        assert filled.replay_quarantined([]) == {}

    def test_a_failing_replay_changes_nothing(self, filled: EventStore, event: Make) -> None:
        bad = event("e1")
        bad.currency = "TOO LONG FOR NOTHING"
        bad.value = object()  # type: ignore[assignment]  # cannot be stored
        with pytest.raises(Exception):  # noqa: B017,PT011
            filled.replay_quarantined([("r1", bad)])
        row = filled.get_quarantined("r1")
        assert row is not None and row["status"] == "quarantined"
        assert filled.count_events() == 0
        assert filled.replay_quarantined([("r1", event("e1"))]) == {"r1": "new"}
