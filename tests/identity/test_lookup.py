"""``people show``: a person found by any identifier, with devices, events and merges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.enrich.pii import sha256_hex
from convtrack.errors import ConvtrackError
from convtrack.events import Identifiers
from convtrack.identity.lookup import identifier, show
from convtrack.identity.rebuild import rebuild
from convtrack.store import EventStore
from journey_data import T0, Journeys, days


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    j = Journeys()
    j.page("A", T0 - days(3))
    j.identify("A", T0 - days(3), "u1")
    j.page("B", T0 - days(1))
    buy = j.convert("B", T0, value=9, order_id="o1")
    buy.user_id = "u1"
    buy.hashed.email_sha256 = sha256_hex("ann@example.com")
    buy.identifiers = Identifiers()
    s = j.store(tmp_path, stitch=False)  # stitched by the rebuild in the test
    yield s
    s.close()


def test_email_is_hashed_like_ingest_before_the_lookup() -> None:
    assert identifier("email", "  Ann@Example.COM ") == (
        "email_sha256", sha256_hex("ann@example.com"),
    )  # fmt: skip
    assert identifier("user_id", "u1") == ("user_id", "u1")
    with pytest.raises(ConvtrackError):
        identifier("email", "   ")


def test_show_finds_the_person_by_any_identifier(store: EventStore) -> None:
    with pytest.raises(ConvtrackError, match="run `convtrack people rebuild`"):
        show(store, "user_id", "u1")
    rebuild(store)
    by_email = show(store, *identifier("email", "ann@example.com"))
    by_device = show(store, "anonymous_id", "A")
    assert by_email == by_device
    assert {(i["kind"], i["value"]) for i in by_email["identifiers"]} == {
        ("anonymous_id", "A"), ("anonymous_id", "B"), ("user_id", "u1"),
        ("email_sha256", sha256_hex("ann@example.com")),
    }  # fmt: skip
    assert [d["anonymous_id"] for d in by_email["devices"]] == ["A", "B"]
    assert {e["event_name"]: e["events"] for e in by_email["events"]} == {
        "page_view": 2, "identify": 1, "purchase": 1,
    }  # fmt: skip
    assert len(by_email["merges"]) == 1  # B joined A's person when it bought as u1
    with pytest.raises(ConvtrackError, match="No person has this user_id"):
        show(store, "user_id", "nobody")
