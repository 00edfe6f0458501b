"""Identity stitching: merges, caps, policy, history, determinism and persistence."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtrack.identity import (
    KINDS,
    IdentityGraph,
    Merge,
    StitchPolicy,
    people_table,
)
from convtrack.identity.graph import person_id_for

T0 = datetime(2024, 5, 1, tzinfo=UTC)
PHONE, LAPTOP = ("anonymous_id", "phone"), ("anonymous_id", "laptop")
ALICE = ("user_id", "alice")
UNCAPPED = StitchPolicy(max_person_identifiers=None, max_person_anonymous_ids=None, max_per_kind={})
NO_KIND_CAP = StitchPolicy(max_per_kind={})  # several user ids may share a person


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def feed(graph: IdentityGraph, events: list[list[tuple[str, str]]]) -> IdentityGraph:
    for n, event in enumerate(events):
        graph.observe(event, at(n), f"e{n}")
    return graph


def test_a_login_joins_phone_and_laptop_into_the_older_person() -> None:
    graph = IdentityGraph()
    first = graph.observe([PHONE], at(0), "e0")
    graph.observe([LAPTOP], at(1), "e1")
    login = graph.observe([PHONE, ALICE], at(2), "e2")
    assert first.person_id == login.person_id == person_id_for(PHONE)
    assert login.merges == ()  # a new identifier joining a person is not a merge

    joined = graph.observe([LAPTOP, ALICE], at(3), "e3")

    phone_person = person_id_for(PHONE)
    assert joined.person_id == phone_person
    assert joined.merges == (Merge(phone_person, person_id_for(LAPTOP), ALICE, "e3", at(3)),)
    assert graph.merges == list(joined.merges)
    assert graph.person_of(*LAPTOP) == graph.person_of(*ALICE) == phone_person
    assert graph.members(phone_person) == (PHONE, LAPTOP, ALICE)
    assert graph.members(person_id_for(LAPTOP)) == ()
    assert people_table(graph) == [("laptop", phone_person), ("phone", phone_person)]


def test_a_shared_email_joins_two_users() -> None:
    email = ("email_sha256", "ab" * 32)
    graph = feed(
        IdentityGraph(NO_KIND_CAP),
        [
            [("anonymous_id", "a1"), ("user_id", "u1"), email],
            [("anonymous_id", "a2"), ("user_id", "u2")],
            [("user_id", "u2"), email],
        ],
    )
    (merge,) = graph.merges
    assert merge.kept == person_id_for(("anonymous_id", "a1"))
    assert merge.absorbed == person_id_for(("anonymous_id", "a2"))
    assert merge.via == email and merge.event_id == "e2"
    assert len({person for _, person in people_table(graph)}) == 1
    assert graph.person_ids() == [merge.kept]


def test_caps_refuse_a_shared_computer_and_say_why() -> None:
    kiosk = ("anonymous_id", "kiosk")
    graph = IdentityGraph(NO_KIND_CAP)  # caps: 50 identifiers, 20 anonymous ids
    last = None
    for n in range(100):
        last = graph.observe([kiosk, ("user_id", f"u{n}")], at(n), f"e{n}")

    kiosk_person = graph.person_of(*kiosk)
    assert kiosk_person is not None and len(graph.members(kiosk_person)) == 50
    assert len(graph.person_ids()) == 52  # the kiosk with u0..u48, and u49..u99 on their own
    assert graph.person_of("user_id", "u48") == kiosk_person
    assert graph.person_of("user_id", "u49") == person_id_for(("user_id", "u49"))
    assert len(graph.refused) == 51
    refusal = graph.refused[0]
    assert (refusal.reason, refusal.size, refusal.cap) == ("max_person_identifiers", 51, 50)
    assert (refusal.person_id, refusal.via, refusal.event_id) == (
        kiosk_person,
        ("user_id", "u49"),
        "e49",
    )
    assert last is not None and last.person_id == kiosk_person and len(last.refused) == 1

    again = graph.observe([kiosk, ("user_id", "u99")], at(200), "e200")
    assert again.refused and len(graph.refused) == 51  # each distinct refusal is kept once


def test_anonymous_id_cap_stops_one_bad_user_id_gathering_every_browser() -> None:
    graph = IdentityGraph(StitchPolicy(max_person_anonymous_ids=3))
    for n in range(5):
        graph.observe([("anonymous_id", f"b{n}"), ("user_id", "undefined")], at(n), f"e{n}")
    person = graph.person_of("user_id", "undefined")
    assert person is not None
    assert [v for k, v in graph.members(person) if k == "anonymous_id"] == ["b0", "b1", "b2"]
    assert [(r.reason, r.size, r.cap) for r in graph.refused] == [
        ("max_person_anonymous_ids", 4, 3)
    ] * 2
    assert graph.person_of("anonymous_id", "b4") == person_id_for(("anonymous_id", "b4"))


def test_a_kind_turned_off_never_joins_two_people_but_attaches_when_new() -> None:
    phone = ("phone_sha256", "cd" * 32)
    graph = IdentityGraph(StitchPolicy(merge_kinds=KINDS - {"phone_sha256"}))
    one = graph.observe([("user_id", "u1"), phone], at(0), "e0")
    assert graph.person_of(*phone) == one.person_id  # new: attached to the event's person

    two = graph.observe([("user_id", "u2"), phone], at(1), "e1")

    assert two.person_id != one.person_id
    assert graph.person_of(*phone) == one.person_id
    assert graph.merges == []
    (refusal,) = two.refused
    assert (refusal.reason, refusal.via) == ("kind_not_merging", phone)
    assert (refusal.person_id, refusal.other_person_id) == (two.person_id, one.person_id)


def test_an_event_of_only_a_turned_off_kind_still_gets_a_person() -> None:
    phone = ("phone_sha256", "ef" * 32)
    graph = IdentityGraph(StitchPolicy(merge_kinds=frozenset({"anonymous_id"})))
    seen = graph.observe([phone, ("user_id", "u1")], at(0), "e0")
    assert seen.person_id == person_id_for(phone)
    assert graph.members(seen.person_id) == (phone, ("user_id", "u1"))


def test_bad_input_fails_loudly() -> None:
    graph = IdentityGraph()
    with pytest.raises(ValueError, match="unknown identifier kind"):
        graph.observe([("cookie", "x")], T0, "e0")
    with pytest.raises(ValueError, match="non-empty"):
        graph.observe([("user_id", "")], T0, "e0")
    with pytest.raises(ValueError, match="at least one"):
        graph.observe([], T0, "e0")
    with pytest.raises(ValueError, match="unknown identifier kinds"):
        StitchPolicy(merge_kinds=frozenset({"fax"}))
    with pytest.raises(ValueError, match="at least 1"):
        StitchPolicy(max_person_identifiers=0)
    assert graph.identifiers() == []


# -- properties over random event streams ----------------------------------------------------

identifiers = st.tuples(
    st.sampled_from(["anonymous_id", "user_id", "email_sha256", "phone_sha256"]),
    st.sampled_from("abcdef"),
)
events = st.lists(st.lists(identifiers, min_size=1, max_size=4), max_size=25)


def components(stream: list[list[tuple[str, str]]]) -> set[frozenset[tuple[str, str]]]:
    """Connected components by breadth-first search: each event links its identifiers."""
    edges: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for event in stream:
        for identifier in event:
            edges.setdefault(identifier, set()).update(event)
    found: set[frozenset[tuple[str, str]]] = set()
    seen: set[tuple[str, str]] = set()
    for start in edges:
        if start in seen:
            continue
        queue, component = deque([start]), {start}
        while queue:
            for neighbour in edges[queue.popleft()] - component:
                component.add(neighbour)
                queue.append(neighbour)
        seen |= component
        found.add(frozenset(component))
    return found


@settings(max_examples=200, deadline=None)
@given(events)
def test_uncapped_people_are_the_connected_components(stream) -> None:
    graph = feed(IdentityGraph(UNCAPPED), stream)
    people = {frozenset(graph.members(p)) for p in graph.person_ids()}
    assert people == components(stream)
    first_seen = graph.identifiers()
    for person in graph.person_ids():  # the oldest identifier's person survives
        members = graph.members(person)
        assert person == person_id_for(min(members, key=first_seen.index))
        assert all(graph.person_of(*m) == person for m in members)
    assert not graph.refused


SMALL = StitchPolicy(
    merge_kinds=KINDS - {"phone_sha256"},
    max_person_identifiers=4,
    max_person_anonymous_ids=2,
    max_per_kind={"user_id": 1, "email_sha256": 2},
)


@settings(max_examples=200, deadline=None)
@given(events, st.sampled_from([UNCAPPED, SMALL]))
def test_replays_are_identical_and_caps_hold(stream, policy: StitchPolicy) -> None:
    graph = feed(IdentityGraph(policy), stream)
    assert feed(IdentityGraph(policy), stream).to_rows() == graph.to_rows()
    for person in graph.person_ids():
        members = graph.members(person)
        if policy is SMALL:
            assert len(members) <= 4
            assert sum(kind == "anonymous_id" for kind, _ in members) <= 2
            assert sum(kind == "user_id" for kind, _ in members) <= 1
            assert sum(kind == "email_sha256" for kind, _ in members) <= 2


@settings(max_examples=200, deadline=None)
@given(events, st.integers(0, 25), st.sampled_from([UNCAPPED, SMALL]))
def test_rows_round_trip_and_resume(stream, cut: int, policy: StitchPolicy) -> None:
    whole = feed(IdentityGraph(policy), stream)
    half = IdentityGraph(policy)
    for n, event in enumerate(stream[:cut]):
        half.observe(event, at(n), f"e{n}")
    rows = half.to_rows()
    resumed = IdentityGraph.from_rows(rows, policy)
    assert resumed.to_rows() == rows
    assert people_table(resumed) == people_table(half)
    for n, event in enumerate(stream[cut:], start=cut):
        resumed.observe(event, at(n), f"e{n}")
    assert resumed.to_rows() == whole.to_rows()
    assert resumed.merges == whole.merges and resumed.refused == whole.refused


def _state(graph: IdentityGraph) -> tuple[object, ...]:
    """Everything a graph holds, its union-find trees and person records included."""
    return (
        graph._parent,
        graph._seen,
        graph._names,
        graph._groups,
        graph._root_of_person,
        graph._added,
        graph._next_seen,
        graph.merges,
        graph.refused,
    )


# events whose identifiers are often all new: the shortcut for a new person (``_found``)
fresh = st.lists(
    st.lists(
        st.tuples(st.sampled_from(sorted(KINDS)), st.sampled_from("abcdefghijklmnopqrstuvwxyz")),
        min_size=1,
        max_size=6,
    ),
    max_size=25,
)
ONE_ID_OFF = StitchPolicy(merge_kinds=KINDS - {"anonymous_id"}, max_per_kind={})


@settings(max_examples=300, deadline=None)
@given(fresh, st.sampled_from([UNCAPPED, SMALL, ONE_ID_OFF, StitchPolicy()]))
def test_a_new_person_at_once_is_the_person_built_link_by_link(stream, policy) -> None:
    quick, slow = IdentityGraph(policy), IdentityGraph(policy)
    slow._found = lambda *_: None  # type: ignore[method-assign]  # always link one at a time
    for n, event in enumerate(stream):
        assert quick.observe(event, at(n), f"e{n}") == slow.observe(event, at(n), f"e{n}")
        assert _state(quick) == _state(slow)
