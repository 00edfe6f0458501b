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
    kind, value = founder
    digest = hashlib.sha256(f"{kind}\x1f{value}".encode()).hexdigest()
    return f"person:{digest[:24]}"


@dataclass(slots=True)
class _Person:
    """What a union-find root carries: the surviving id and the members."""

    person_id: str
    born: int  # first_seen of the founder, the oldest member
    members: list[Identifier]
    kinds: dict[str, int]  # members by kind


class IdentityGraph:
    """Which identifiers are one person, built one event at a time (see the module doc)."""

    def __init__(self, policy: StitchPolicy | None = None) -> None:
        self.policy = policy or StitchPolicy()
        self.merges: list[Merge] = []
        self.refused: list[Refusal] = []  # each distinct refusal once, in order
        self._parent: dict[Identifier, Identifier] = {}
        self._seen: dict[Identifier, int] = {}
        self._roots: dict[Identifier, _Person] = {}
        self._root_of_person: dict[str, Identifier] = {}
        self._refusal_keys: set[tuple[str, str, str, Identifier]] = set()
        self._next_seen = 0
        self._added: list[Identifier] = []  # since the last ``mark``

    # -- queries ----------------------------------------------------------------------------

    def person_of(self, kind: str, value: str) -> str | None:
        """The person id of an identifier, or None if it was never observed."""
        if (kind, value) not in self._parent:
            return None
        return self._roots[self._find((kind, value))].person_id

    def members(self, person_id: str) -> tuple[Identifier, ...]:
        """A current person's identifiers, first seen first (empty for an unknown id)."""
        root = self._root_of_person.get(person_id)
        if root is None:
            return ()
        return tuple(sorted(self._roots[root].members, key=self._seen.__getitem__))

    def person_ids(self) -> list[str]:
        """Every current person id, oldest person first."""
        return [p.person_id for p in sorted(self._roots.values(), key=lambda p: p.born)]

    def identifiers(self) -> list[Identifier]:
        """Every observed identifier, first seen first."""
        return list(self._seen)

    # -- observing --------------------------------------------------------------------------

    def observe(
        self, identifiers: Iterable[Identifier], at: datetime, event_id: str
    ) -> Observation:
        """Link one event's identifiers; say which person it belongs to and what merged."""
        event = _checked(identifiers)
        start = self._next_seen
        for identifier in event:
            if identifier not in self._parent:
                self._add(identifier)
        if len(event) == 1 or len({self._find(i) for i in event}) == 1:  # nothing to link
            return Observation(self._roots[self._find(event[0])].person_id)
        anchor = next((i for i in event if i[0] in self.policy.merge_kinds), event[0])
        outcomes = [self._link(anchor, i, start, event_id, at) for i in event]
        merges = tuple(o for o in outcomes if isinstance(o, Merge))
        refused = tuple(o for o in outcomes if isinstance(o, Refusal))
        self.merges.extend(merges)
        self._record(refused)
        return Observation(self._roots[self._find(anchor)].person_id, merges, refused)

    def _link(
        self, anchor: Identifier, identifier: Identifier, start: int, event_id: str, at: datetime
    ) -> Merge | Refusal | None:
        """Join ``identifier``'s person to ``anchor``'s if allowed; ``start`` = event's first seq.

        A ``Merge`` when two persons that existed before the event became one, a ``Refusal``
        when the policy forbade it, else None (already together, or a new identifier joined).
        """
        here, there = self._find(anchor), self._find(identifier)
        if here == there:
            return None
        a, b = self._roots[here], self._roots[there]
        if identifier[0] not in self.policy.merge_kinds and self._seen[identifier] < start:
            return Refusal(
                a.person_id, b.person_id, identifier, KIND_NOT_MERGING, 0, 0, event_id, at
            )
        over = self.policy.over_cap(len(a.members) + len(b.members), a.kinds, b.kinds)
        if over is not None:
            reason, size, cap = over
            return Refusal(a.person_id, b.person_id, identifier, reason, size, cap, event_id, at)
        kept, absorbed = (a, b) if a.born < b.born else (b, a)
        merge = Merge(kept.person_id, absorbed.person_id, identifier, event_id, at)
        existed = absorbed.born < start
        self._union(here, there)
        return merge if existed else None

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
        moved = {m.absorbed: self._roots[self._find(m.via)].person_id for m in merges}
        identifiers = [
            (
                kind,
                value,
                self._roots[self._find((kind, value))].person_id,
                self._seen[(kind, value)],
            )
            for kind, value in self._added
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
            (kind, value, self._roots[self._find((kind, value))].person_id, seen)
            for (kind, value), seen in self._seen.items()
        ]
        merges = [(m.kept, m.absorbed, *m.via, m.event_id, m.at) for m in self.merges]
        refused = [_refusal_row(r) for r in self.refused]
        return GraphRows(identifiers, merges, refused)

    @classmethod
    def from_rows(cls, rows: GraphRows, policy: StitchPolicy | None = None) -> IdentityGraph:
        """Rebuild a graph from ``to_rows`` output; it then observes as the original would."""
        graph = cls(policy)
        groups: dict[str, list[tuple[int, Identifier]]] = {}
        for kind, value, person_id, seen in rows.identifiers:
            groups.setdefault(person_id, []).append((seen, (kind, value)))
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

    def _restore(self, person_id: str, group: list[tuple[int, Identifier]]) -> None:
        """Add one person whose members are ``(first_seen, identifier)``, oldest first."""
        born, root = group[0]
        members = [identifier for _, identifier in group]
        for seen, identifier in group:
            self._seen[identifier] = seen
            self._parent[identifier] = root
        kinds = Counter(kind for kind, _ in members)
        self._roots[root] = _Person(person_id, born, members, dict(kinds))
        self._root_of_person[person_id] = root
        self._next_seen = max(self._next_seen, group[-1][0] + 1)

    # -- union-find -------------------------------------------------------------------------

    def _add(self, identifier: Identifier) -> None:
        seen = self._next_seen
        self._next_seen += 1
        self._seen[identifier] = seen
        self._parent[identifier] = identifier
        self._added.append(identifier)
        person = _Person(person_id_for(identifier), seen, [identifier], {identifier[0]: 1})
        self._roots[identifier] = person
        self._root_of_person[person.person_id] = identifier

    def _find(self, identifier: Identifier) -> Identifier:
        root = identifier
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[identifier] != root:  # path compression
            self._parent[identifier], identifier = root, self._parent[identifier]
        return root

    def _union(self, x: Identifier, y: Identifier) -> None:
        """Merge two roots: the smaller tree hangs under the larger, the older id survives."""
        px, py = self._roots[x], self._roots[y]
        big, small = (x, y) if len(px.members) >= len(py.members) else (y, x)
        kept, absorbed = (px, py) if px.born < py.born else (py, px)
        into, gone = self._roots[big], self._roots.pop(small)
        self._parent[small] = big
        into.members.extend(gone.members)
        for kind, n in gone.kinds.items():
            into.kinds[kind] = into.kinds.get(kind, 0) + n
        into.person_id, into.born = kept.person_id, kept.born
        del self._root_of_person[absorbed.person_id]
        self._root_of_person[kept.person_id] = big


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
