"""Incremental identity stitching: a union-find over identifiers with stable person ids.

Every identifier belongs to exactly one person. ``observe`` takes one event's identifiers and
links them to the event's *anchor* — its first identifier of a kind that may merge (else its
first identifier) — one at a time, in the order given:

- an identifier of a kind the policy lets merge joins the anchor's person, merging two
  persons if it already had one;
- an identifier of a kind that may not merge never joins two existing persons: it joins the
  anchor's person only when first seen in this event (a refusal ``kind_not_merging`` is
  recorded when it already belongs to someone else);
- a link whose merged person would exceed a cap is refused and recorded, and the two persons
  stay apart (an identifier first seen in the event keeps a person of its own).

A person's id is derived from its founding identifier, the first one seen; when two persons
merge, the older one's id survives. The tree shape follows union by size with path
compression, independently of which id survives. Replaying the same events in the same order
therefore gives the same persons and ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from convtrack.identity.records import (
    ANONYMOUS_ID,
    KIND_NOT_MERGING,
    KINDS,
    Identifier,
    Merge,
    Observation,
    Refusal,
    StitchPolicy,
)

IdentifierRow = tuple[str, str, str, int]
"""``(kind, value, person_id, first_seen)``; ``first_seen`` orders identifiers by arrival."""
MergeRow = tuple[str, str, str, str, str, datetime]
"""``(kept, absorbed, via_kind, via_value, event_id, at)``."""
RefusalRow = tuple[str, str, str, str, str, int, int, str, datetime]
"""``(person_id, other_person_id, via_kind, via_value, reason, size, cap, event_id, at)``."""


class GraphRows(NamedTuple):
    """An ``IdentityGraph``'s whole state as plain tuples, for a store to persist."""

    identifiers: list[IdentifierRow]
    merges: list[MergeRow]
    refused: list[RefusalRow]


class Mark(NamedTuple):
    """Where a delta starts: how many merges and refusals the graph held (see ``mark``)."""

    merges: int
    refused: int


class GraphDelta(NamedTuple):
    """What changed since a ``Mark``: the rows a store adds or updates to catch up.

    ``identifiers`` are the new ones with their current person; ``moved`` maps each person
    absorbed since the mark to the person that holds its members now (so a store updates
    ``person_id`` in place); ``people`` are the new ``(anonymous_id, person_id)`` rows.
    """

    identifiers: list[IdentifierRow]
    moved: list[tuple[str, str]]
    merges: list[MergeRow]
    refused: list[RefusalRow]
    people: list[tuple[str, str]]

    def __bool__(self) -> bool:
        return any((self.identifiers, self.moved, self.merges, self.refused))


def person_id_for(founder: Identifier) -> str:
    """The id of the person founded by ``founder`` (hashed, so it never equals a raw id)."""
    return _person_id(_key(*founder))


# Inside the graph an identifier is one string, ``kind + "\x1f" + value`` (kinds never hold
# the separator). Dicts of strings and ints are never tracked by Python's cyclic GC; with
# ``(kind, value)`` tuples every full collection walked the whole graph, a pause that grew
# with the number of identifiers stitched (docs/benchmarks.md).
Key = str
_SEP = "\x1f"


def _key(kind: str, value: str) -> Key:
    return f"{kind}{_SEP}{value}"


def _identifier(key: Key) -> Identifier:
    kind, _, value = key.partition(_SEP)
    return kind, value


def _person_id(founder: Key) -> str:
    return f"person:{hashlib.sha256(founder.encode()).hexdigest()[:24]}"


@dataclass(slots=True)
class _Person:
    """What a union-find root of more than one identifier carries (see ``_person``)."""

    born: int  # first_seen of the founder, the oldest member
    members: list[Key]
    kinds: dict[str, int]  # members by kind


class IdentityGraph:
    """Which identifiers are one person, built one event at a time (see the module doc)."""

    def __init__(self, policy: StitchPolicy | None = None) -> None:
        self.policy = policy or StitchPolicy()
        self.merges: list[Merge] = []
        self.refused: list[Refusal] = []  # each distinct refusal once, in order
        self._parent: dict[Key, Key] = {}
        self._seen: dict[Key, int] = {}
        self._names: dict[Key, str] = {}  # every root's person id
        # the members of roots with more than one (most persons have one: no object)
        self._groups: dict[Key, _Person] = {}
        self._root_of_person: dict[str, Key] = {}
        self._refusal_keys: set[tuple[str, str, str, Identifier]] = set()
        self._next_seen = 0
        self._added: list[Key] = []  # since the last ``mark``

    # -- queries ----------------------------------------------------------------------------

    def person_of(self, kind: str, value: str) -> str | None:
        """The person id of an identifier, or None if it was never observed."""
        key = _key(kind, value)
        if key not in self._parent:
            return None
        return self._names[self._find(key)]

    def members(self, person_id: str) -> tuple[Identifier, ...]:
        """A current person's identifiers, first seen first (empty for an unknown id)."""
        root = self._root_of_person.get(person_id)
        if root is None:
            return ()
        group = self._groups.get(root)
        keys = [root] if group is None else group.members
        return tuple(_identifier(k) for k in sorted(keys, key=self._seen.__getitem__))

    def person_ids(self) -> list[str]:
        """Every current person id, oldest person first."""
        return [self._names[root] for root in sorted(self._names, key=self._born)]

    def identifiers(self) -> list[Identifier]:
        """Every observed identifier, first seen first."""
        return [_identifier(key) for key in self._seen]

    # -- observing --------------------------------------------------------------------------

    def observe(
        self, identifiers: Iterable[Identifier], at: datetime, event_id: str
    ) -> Observation:
        """Link one event's identifiers; say which person it belongs to and what merged."""
        event = _checked(identifiers)
        keys = [_key(kind, value) for kind, value in event]
        if len(keys) > 1 and not any(key in self._parent for key in keys):
            founded = self._found(event, keys)
            if founded is not None:
                return Observation(founded)
        start = self._next_seen
        for key in keys:
            if key not in self._parent:
                self._add(key)
        if len(keys) == 1 or len({self._find(k) for k in keys}) == 1:  # nothing to link
            return Observation(self._names[self._find(keys[0])])
        at_anchor = next((n for n, i in enumerate(event) if i[0] in self.policy.merge_kinds), 0)
        anchor = keys[at_anchor]
        outcomes = [
            self._link(anchor, key, identifier, start, event_id, at)
            for key, identifier in zip(keys, event, strict=True)
        ]
        merges = tuple(o for o in outcomes if isinstance(o, Merge))
        refused = tuple(o for o in outcomes if isinstance(o, Refusal))
        self.merges.extend(merges)
        self._record(refused)
        return Observation(self._names[self._find(anchor)], merges, refused)

    def _found(self, event: list[Identifier], keys: list[Key]) -> str | None:
        """A new person of an event whose identifiers are all new; None when over a cap.

        The state ``_link`` would reach one link at a time, built at once (cheaper: one
        person id hashed, not one per identifier): each new identifier joins the anchor's
        person, so each hangs under the anchor (the larger tree in every union), and the
        first identifier is the oldest, so its id survives. Nothing is refused (no identifier
        was seen before the event; a cap the whole event keeps is kept at every step) and
        nothing is a merge (neither person existed before it). ``test_graph`` checks both
        paths give the same graph."""
        kinds: dict[str, int] = {}
        at_anchor = next((n for n, i in enumerate(event) if i[0] in self.policy.merge_kinds), 0)
        for kind, _ in (event[at_anchor], *event[:at_anchor], *event[at_anchor + 1 :]):
            kinds[kind] = kinds.get(kind, 0) + 1
        if self.policy.over_cap(len(keys), kinds) is not None:
            return None  # some link is refused: the step by step path says which
        anchor, start = keys[at_anchor], self._next_seen
        self._next_seen += len(keys)
        for n, key in enumerate(keys):
            self._seen[key] = start + n
            self._parent[key] = anchor
        self._added.extend(keys)
        members = [anchor, *keys[:at_anchor], *keys[at_anchor + 1 :]]
        self._groups[anchor] = _Person(start, members, kinds)
        person_id = self._names[anchor] = _person_id(keys[0])
        self._root_of_person[person_id] = anchor
        return person_id

    def observe_one(self, identifier: Identifier) -> None:
        """``observe`` of an event with a single identifier, without its ``Observation``.

        Most events carry only an anonymous id: a new one founds a person of its own, a known
        one changes nothing. For callers that read ``identifier`` from a typed column (a kind
        of ``KINDS``, a non-empty string): it is not checked again."""
        key = _key(*identifier)
        if key not in self._parent:
            self._add(key)

    def _link(
        self,
        anchor: Key,
        key: Key,
        identifier: Identifier,
        start: int,
        event_id: str,
        at: datetime,
    ) -> Merge | Refusal | None:
        """Join ``identifier``'s person to ``anchor``'s if allowed; ``start`` = event's first seq.

        A ``Merge`` when two persons that existed before the event became one, a ``Refusal``
        when the policy forbade it, else None (already together, or a new identifier joined).
        """
        here, there = self._find(anchor), self._find(key)
        if here == there:
            return None
        a, b = self._person(here), self._person(there)
        ids = self._names[here], self._names[there]
        if identifier[0] not in self.policy.merge_kinds and self._seen[key] < start:
            return Refusal(*ids, identifier, KIND_NOT_MERGING, 0, 0, event_id, at)
        over = self.policy.over_cap(len(a.members) + len(b.members), a.kinds, b.kinds)
        if over is not None:
            reason, size, cap = over
            return Refusal(*ids, identifier, reason, size, cap, event_id, at)
        kept, absorbed = ids if a.born < b.born else ids[::-1]
        merge = None
        if max(a.born, b.born) < start:  # both existed before the event: a merge to record
            merge = Merge(kept, absorbed, identifier, event_id, at)
        self._union(here, there)
        return merge

    def _record(self, refused: Iterable[Refusal]) -> None:
        for r in refused:
            key = (r.reason, r.person_id, r.other_person_id, r.via)
            if key not in self._refusal_keys:
                self._refusal_keys.add(key)
                self.refused.append(r)

    # -- deltas -----------------------------------------------------------------------------

    def mark(self) -> Mark:
        """Start a delta: ``changes_since`` this mark says what later observations changed.

        One delta at a time: a new mark forgets which identifiers the previous one added."""
        self._added.clear()
        return Mark(len(self.merges), len(self.refused))

    def changes_since(self, mark: Mark) -> GraphDelta:
        """The rows that changed since ``mark`` (cost: the changes, not the graph)."""
        merges = self.merges[mark.merges :]
        moved = {m.absorbed: self._names[self._find(_key(*m.via))] for m in merges}
        identifiers = [
            (*_identifier(key), self._names[self._find(key)], self._seen[key])
            for key in self._added
        ]
        return GraphDelta(
            identifiers,
            list(moved.items()),
            [(m.kept, m.absorbed, *m.via, m.event_id, m.at) for m in merges],
            [_refusal_row(r) for r in self.refused[mark.refused :]],
            [(value, person) for kind, value, person, _ in identifiers if kind == ANONYMOUS_ID],
        )

    # -- state as rows ---------------------------------------------------------------------

    def to_rows(self) -> GraphRows:
        """The whole state as plain tuples (identifiers first seen first)."""
        identifiers = [
            (*_identifier(key), self._names[self._find(key)], seen)
            for key, seen in self._seen.items()
        ]
        merges = [(m.kept, m.absorbed, *m.via, m.event_id, m.at) for m in self.merges]
        refused = [_refusal_row(r) for r in self.refused]
        return GraphRows(identifiers, merges, refused)

    @classmethod
    def from_rows(
        cls, rows: GraphRows, policy: StitchPolicy | None = None, *, next_seen: int = 0
    ) -> IdentityGraph:
        """Rebuild a graph from ``to_rows`` output; it then observes as the original would.

        ``rows`` may be a part of a graph (whole persons, as PostgreSQL loads them at ingest):
        ``next_seen`` is then the whole graph's next ``first_seen``."""
        graph = cls(policy)
        graph._next_seen = next_seen
        groups: dict[str, list[tuple[int, Key]]] = {}
        for kind, value, person_id, seen in rows.identifiers:
            groups.setdefault(person_id, []).append((seen, _key(kind, value)))
        for person_id, group in groups.items():
            group.sort()
            graph._restore(person_id, group)
        graph._seen = dict(sorted(graph._seen.items(), key=lambda item: item[1]))
        graph.merges = [Merge(k, a, (vk, vv), e, at) for k, a, vk, vv, e, at in rows.merges]
        graph._record(
            Refusal(p, o, (vk, vv), reason, size, cap, e, at)
            for p, o, vk, vv, reason, size, cap, e, at in rows.refused
        )
        return graph

    def _restore(self, person_id: str, group: list[tuple[int, Key]]) -> None:
        """Add one person whose members are ``(first_seen, key)``, oldest first."""
        born, root = group[0]
        for seen, key in group:
            self._seen[key] = seen
            self._parent[key] = root
        self._names[root] = person_id
        if len(group) > 1:
            members = [key for _, key in group]
            kinds = Counter(key.partition(_SEP)[0] for key in members)
            self._groups[root] = _Person(born, members, dict(kinds))
        self._root_of_person[person_id] = root
        self._next_seen = max(self._next_seen, group[-1][0] + 1)

    # -- union-find -------------------------------------------------------------------------

    def _add(self, key: Key) -> None:
        seen = self._next_seen
        self._next_seen += 1
        self._seen[key] = seen
        self._parent[key] = key
        self._added.append(key)
        person_id = self._names[key] = _person_id(key)
        self._root_of_person[person_id] = key

    def _born(self, root: Key) -> int:
        group = self._groups.get(root)
        return self._seen[root] if group is None else group.born

    def _person(self, root: Key) -> _Person:
        """The root's members, made when a person of one identifier is first linked."""
        group = self._groups.get(root)
        if group is None:
            kinds = {root.partition(_SEP)[0]: 1}
            group = self._groups[root] = _Person(self._seen[root], [root], kinds)
        return group

    def _find(self, key: Key) -> Key:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:  # path compression
            self._parent[key], key = root, self._parent[key]
        return root

    def _union(self, x: Key, y: Key) -> None:
        """Merge two roots: the smaller tree hangs under the larger, the older id survives."""
        px, py = self._person(x), self._person(y)
        big, small = (x, y) if len(px.members) >= len(py.members) else (y, x)
        kept, absorbed = (x, y) if px.born < py.born else (y, x)
        born, kept_id, absorbed_id = self._born(kept), self._names[kept], self._names[absorbed]
        into, gone = self._groups[big], self._groups.pop(small)
        del self._names[small]
        self._parent[small] = big
        into.members.extend(gone.members)
        for kind, n in gone.kinds.items():
            into.kinds[kind] = into.kinds.get(kind, 0) + n
        into.born, self._names[big] = born, kept_id
        del self._root_of_person[absorbed_id]
        self._root_of_person[kept_id] = big


def _refusal_row(r: Refusal) -> RefusalRow:
    return (r.person_id, r.other_person_id, *r.via, r.reason, r.size, r.cap, r.event_id, r.at)


def _checked(identifiers: Iterable[Identifier]) -> list[Identifier]:
    """The event's identifiers without repeats, in order; unknown kinds or empty values fail."""
    event: dict[Identifier, None] = {}
    for kind, value in identifiers:
        if kind not in KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}; use one of {sorted(KINDS)}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"identifier {kind} needs a non-empty string value, not {value!r}")
        event[(kind, value)] = None
    if not event:
        raise ValueError("an event needs at least one identifier to be stitched")
    return list(event)


def people_table(graph: IdentityGraph) -> list[tuple[str, str]]:
    """``(anonymous_id, person_id)`` rows, by anonymous id: attribution's ``StitchedPeople``."""
    return sorted(
        (value, person_id)
        for kind, value in graph.identifiers()
        if kind == ANONYMOUS_ID and (person_id := graph.person_of(kind, value)) is not None
    )
