"""``rebuild`` on a real store: a login on two devices makes one journey for attribution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convtrack.attribution.service import Params, run_report
from convtrack.identity import StitchPolicy
from convtrack.identity.graph import person_id_for
from convtrack.identity.rebuild import rebuild
from convtrack.store import EventStore
from journey_data import T0, Journeys, days, plan


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    """A phone (``A``) clicks a Google ad; a laptop (``B``) buys; both log in as ``u1``."""
    j = Journeys()
    j.page("A", T0 - days(10), "/p", referrer="https://www.google.com/", gclid="G1")
    j.identify("A", T0 - days(10), "u1")
    j.page("B", T0 - days(1), "/cart")
    j.identify("B", T0 - days(1), "u1")
    j.convert("B", T0, value=50, order_id="o1")
    j.page("C", T0 - days(2))  # a third browser, never logged in
    store = j.store(tmp_path, stitch=False)  # only the rebuilds below stitch
    yield store
    store.close()


def first_touch(store: EventStore) -> tuple[dict[str, float], list[str]]:
    report = run_report(store, plan(), Params(["first_touch"]), "USD").as_json()
    return {r["label"]: r["conversions"] for r in report["rows"]}, report["notes"]


def people(store: EventStore) -> list[tuple[object, ...]]:
    return store.query("SELECT anonymous_id, person_id FROM identity_people ORDER BY 1").rows


def test_rebuild_stitches_the_devices_and_credits_the_phones_click(store: EventStore) -> None:
    before, notes = first_touch(store)
    assert before == {"Direct": 1.0}
    assert not any("stitched" in note for note in notes)

    summary = rebuild(store)

    assert summary == {"events": 6, "identifiers": 4, "persons": 2, "merges": 1, "refused": 0}
    phone = person_id_for(("anonymous_id", "A"))  # the oldest identifier founds the person
    assert people(store) == [
        ("A", phone),
        ("B", phone),
        ("C", person_id_for(("anonymous_id", "C"))),
    ]
    after, notes = first_touch(store)
    assert after == {"Paid Search": 1.0}
    assert "journeys follow stitched people (identity_people)" in notes


def test_a_second_rebuild_replaces_the_graph(store: EventStore) -> None:
    first = rebuild(store)
    tables = ("identity_people", "identity_identifiers", "identity_merges", "identity_refused")
    counts = [store.query(f"SELECT count(*) FROM {t}").rows for t in tables]  # noqa: S608
    assert rebuild(store) == first
    assert [store.query(f"SELECT count(*) FROM {t}").rows for t in tables] == counts  # noqa: S608


def test_a_policy_refusal_is_stored_and_keeps_the_devices_apart(store: EventStore) -> None:
    summary = rebuild(store, StitchPolicy(max_person_anonymous_ids=1))
    assert (summary["persons"], summary["merges"], summary["refused"]) == (3, 0, 1)
    refused = store.query("SELECT via_kind, via_value, reason, size, cap FROM identity_refused")
    assert refused.rows == [("user_id", "u1", "max_person_anonymous_ids", 2, 1)]
    assert first_touch(store)[0] == {"Direct": 1.0}
