"""Rebuild the stored identity graph from every stored event, in the order they happened.

One read of the events' identifiers, ordered by ``(occurred_at, event_id)`` so a replay gives
the same persons and ids; the graph is fed one event at a time and its whole state replaces
the store's ``identity_*`` tables in one transaction (``EventStore.replace_identity``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from convtrack.identity.graph import IdentityGraph, people_table
from convtrack.identity.records import Identifier, StitchPolicy
from convtrack.store.base import EventStore

# Event columns holding identifiers, named as their kinds; the first present one founds a
# new person, so a browser founds it before a user id.
COLUMNS = (
    "anonymous_id", "user_id", "email_sha256", "phone_sha256", "external_id_sha256",
    "advertising_id_sha256",
)  # fmt: skip
_ANY_SET = " OR ".join(f"{c} IS NOT NULL" for c in COLUMNS)
EVENTS_SQL = (
    f"SELECT event_id, occurred_at, {', '.join(COLUMNS)} FROM events"  # noqa: S608
    f" WHERE {_ANY_SET} ORDER BY occurred_at, event_id"
)


def identifiers_of(values: tuple[Any, ...]) -> list[Identifier]:
    """An event's ``(kind, value)`` pairs from its identifier columns (empty values left out)."""
    return [(kind, value) for kind, value in zip(COLUMNS, values, strict=True) if value]


def stitch(
    events: Iterable[Sequence[Any]], graph: IdentityGraph | None = None
) -> tuple[IdentityGraph, int]:
    """Observe ``(event_id, occurred_at, *COLUMNS)`` rows in order; the graph and how many
    events had an identifier."""
    graph = IdentityGraph() if graph is None else graph
    observed = 0
    for event_id, occurred_at, *values in events:
        identifiers = identifiers_of(tuple(values))
        if len(identifiers) == 1:  # the common case: nothing to link
            graph.observe_one(identifiers[0])
        elif identifiers:  # not a column set to '' only
            graph.observe(identifiers, occurred_at, event_id)
        else:
            continue
        observed += 1
    return graph, observed


def stitch_columns(
    columns: Sequence[Sequence[str | None]],
    graph: IdentityGraph,
    event: Callable[[int], tuple[str, datetime]],
) -> None:
    """``stitch`` of events given as one list per ``COLUMNS`` entry, already in replay order.

    ``event(i)`` gives row ``i``'s ``(event_id, occurred_at)``; it is asked only for an event
    with more than one identifier (only a link can record a merge or a refusal), so the
    common event costs a dict lookup and no ``datetime``."""
    for i, values in enumerate(zip(*columns, strict=True)):
        found = [(kind, value) for kind, value in zip(COLUMNS, values, strict=True) if value]
        if len(found) == 1:
            graph.observe_one(found[0])
        elif found:
            event_id, at = event(i)
            graph.observe(found, at, event_id)


def summary(graph: IdentityGraph, events: int) -> dict[str, int]:
    """What a rebuilt graph holds, as ``convtrack people rebuild`` prints it."""
    return {
        "events": events,
        "identifiers": len(graph.identifiers()),
        "persons": len(graph.person_ids()),
        "merges": len(graph.merges),
        "refused": len(graph.refused),
    }


def rebuild(store: EventStore, policy: StitchPolicy | None = None) -> dict[str, int]:
    """Stitch every stored event from scratch and replace the stored graph; say what it holds.

    Generic (``query`` + ``replace_identity``): events appended between the read and the
    replace are not in the result; ``EventStore.rebuild_identity`` does both under the
    writer's lock, with the store's configured policy.
    """
    graph, events = stitch(store.query(EVENTS_SQL).rows, IdentityGraph(policy))
    store.replace_identity(graph.to_rows(), people_table(graph))
    return summary(graph, events)
