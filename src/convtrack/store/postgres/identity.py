"""The identity graph in PostgreSQL: kept in step at ingest, or replaced whole by a rebuild.

Several collector processes append at once, so no process can keep the graph in memory as
DuckDB does (store/duckdb_identity.py). Inside each append's transaction ``observe`` instead
loads only the persons the inserted events touch, stitches the events into that part of the
graph and writes what changed, holding a transaction-level advisory lock so merges happen one
at a time across processes. Person ids and ``first_seen`` come out as a single process would
give them: for a stream appended in time order the tables equal DuckDB's and a rebuild's
(tests/store/conformance/test_identity_at_ingest.py); appends that race each other are
stitched in the order they take the lock, which only the caps and person ids can tell.

An append whose events only repeat what is stored (each event's identifiers known and already
one person, the steady state of returning visitors) changes nothing and takes no lock: persons
only ever merge while appends run (erasure and rebuild lock the events table against them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from convtrack.events import Event

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphDelta, GraphRows, IdentityGraph
    from convtrack.identity.records import Identifier, StitchPolicy

LOCK = 0x636F6E69  # pg_advisory_xact_lock key: one transaction changes the graph at a time

COLUMNS: dict[str, tuple[str, ...]] = {
    "identity_people": ("anonymous_id", "person_id"),
    "identity_identifiers": ("kind", "value", "person_id", "first_seen"),
    "identity_merges": ("kept", "absorbed", "via_kind", "via_value", "event_id", "at"),
    "identity_refused": (
        "person_id", "other_person_id", "via_kind", "via_value", "reason", "size", "cap",
        "event_id", "at",
    ),
}  # fmt: skip


def _check_unique(table: str, keys: Sequence[Any]) -> None:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"duplicate key {key!r} for {table}: an identifier has one person")
        seen.add(key)


def replace(
    con: psycopg.Connection[Any], rows: GraphRows, people: Sequence[tuple[str, str]]
) -> None:
    """Delete every identity row and copy the given ones in (holding the identity lock)."""
    _check_unique("identity_identifiers", [(kind, value) for kind, value, *_ in rows.identifiers])
    _check_unique("identity_people", [anonymous_id for anonymous_id, _ in people])
    batches = {
        "identity_people": people,
        "identity_identifiers": rows.identifiers,
        "identity_merges": rows.merges,
        "identity_refused": rows.refused,
    }
    lock(con)
    with con.cursor() as cur:
        for table, table_rows in batches.items():
            cur.execute(f"DELETE FROM {table}")  # noqa: S608  (a fixed table name)
            _copy(cur, table, table_rows)


def lock(con: psycopg.Connection[Any]) -> None:
    """Hold the identity lock until the caller's transaction ends."""
    con.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])


def _copy(cur: psycopg.Cursor[Any], table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in COLUMNS[table])
    with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- stitching at ingest ----------------------------------------------------------------------

Replayed = tuple[str, datetime, list["Identifier"]]
"""``(event_id, occurred_at, identifiers)`` of one event, as a rebuild replays it."""


def replayed(events: Sequence[Event]) -> list[Replayed]:
    """The events with an identifier, in the order a rebuild replays them."""
    from convtrack.identity.rebuild import COLUMNS as KINDS

    found = []
    for e in events:
        h = e.hashed
        values = (
            e.anonymous_id, e.user_id, h.email_sha256, h.phone_sha256, h.external_id_sha256,
            h.advertising_id_sha256,
        )  # fmt: skip
        identifiers = [(k, v) for k, v in zip(KINDS, values, strict=True) if v]
        if identifiers:
            found.append((e.event_id, e.occurred_at, identifiers))
    found.sort(key=lambda r: (r[1], r[0]))
    return found


def observe(con: psycopg.Connection[Any], policy: StitchPolicy, events: Sequence[Event]) -> None:
    """Stitch the events this transaction inserted and write what changed, in the caller's
    transaction (which holds the identity lock from then until it ends)."""
    batch = replayed(events)
    if not batch:
        return
    keys = sorted({i for _, _, identifiers in batch for i in identifiers})
    if _nothing_new(con, batch, keys):
        return
    lock(con)
    graph, loaded = _load(con, keys, policy)
    mark = graph.mark()
    for event_id, at, identifiers in batch:
        if len(identifiers) == 1:
            graph.observe_one(identifiers[0])
        else:
            graph.observe(identifiers, at, event_id)
    _write(con, graph.changes_since(mark), _moved(graph, loaded))


# Arrays go as binary parameters (%b): psycopg dumps a list of text about 4x faster so.


def _nothing_new(
    con: psycopg.Connection[Any], batch: list[Replayed], keys: list[Identifier]
) -> bool:
    """Whether every event's identifiers are stored and already one person (no lock needed:
    what is committed stays joined)."""
    rows = con.execute(
        "SELECT i.kind, i.value, i.person_id FROM identity_identifiers i"
        " JOIN unnest(%b::text[], %b::text[]) AS b(kind, value)"
        " ON i.kind = b.kind AND i.value = b.value",
        [[k for k, _ in keys], [v for _, v in keys]],
    ).fetchall()
    if len(rows) < len(keys):
        return False
    person = {(kind, value): person_id for kind, value, person_id in rows}
    return all(len({person[i] for i in identifiers}) == 1 for _, _, identifiers in batch)


def _load(
    con: psycopg.Connection[Any], keys: list[Identifier], policy: StitchPolicy
) -> tuple[IdentityGraph, list[tuple[str, str, str]]]:
    """The graph of the persons holding ``keys`` (every member, their refusals), numbering
    new identifiers after the whole graph's; and the loaded ``(kind, value, person_id)``."""
    from convtrack.identity.graph import GraphRows, IdentityGraph

    identifiers = con.execute(
        "SELECT kind, value, person_id, first_seen FROM identity_identifiers"
        " WHERE person_id IN (SELECT i.person_id FROM identity_identifiers i"
        " JOIN unnest(%b::text[], %b::text[]) AS b(kind, value)"
        " ON i.kind = b.kind AND i.value = b.value)",
        [[k for k, _ in keys], [v for _, v in keys]],
    ).fetchall()
    persons = sorted({person_id for _, _, person_id, _ in identifiers})
    refused = con.execute(
        f"SELECT {', '.join(_quoted('identity_refused'))} FROM identity_refused"  # noqa: S608
        " WHERE person_id = ANY(%b::text[])",
        [persons],
    ).fetchall()
    row = con.execute("SELECT coalesce(max(first_seen) + 1, 0) FROM identity_identifiers")
    next_seen = int(row.fetchall()[0][0])
    graph = IdentityGraph.from_rows(
        GraphRows(identifiers, [], refused), policy, next_seen=next_seen
    )
    return graph, [(kind, value, person_id) for kind, value, person_id, _ in identifiers]


def _moved(graph: IdentityGraph, loaded: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The stored identifiers whose person was absorbed: ``(kind, value, new person_id)``."""
    moved = []
    for kind, value, person_id in loaded:
        now = graph.person_of(kind, value)
        if now is not None and now != person_id:
            moved.append((kind, value, now))
    return moved


def _write(
    con: psycopg.Connection[Any], delta: GraphDelta, moved: list[tuple[str, str, str]]
) -> None:
    """Bring the tables up to the graph: updates by primary key, new rows by COPY."""
    with con.cursor() as cur:
        if moved:
            kinds, values, persons = (list(c) for c in zip(*moved, strict=True))
            cur.execute(
                "UPDATE identity_identifiers i SET person_id = m.person_id"
                " FROM unnest(%b::text[], %b::text[], %b::text[]) AS m(kind, value, person_id)"
                " WHERE i.kind = m.kind AND i.value = m.value",
                [kinds, values, persons],
            )
            people = [(v, p) for k, v, p in moved if k == "anonymous_id"]
            if people:
                cur.execute(
                    "UPDATE identity_people p SET person_id = m.person_id"
                    " FROM unnest(%b::text[], %b::text[]) AS m(anonymous_id, person_id)"
                    " WHERE p.anonymous_id = m.anonymous_id",
                    [[a for a, _ in people], [p for _, p in people]],
                )
        _copy(cur, "identity_identifiers", delta.identifiers)
        _copy(cur, "identity_people", delta.people)
        _copy(cur, "identity_merges", delta.merges)
        _copy(cur, "identity_refused", delta.refused)


def _quoted(table: str) -> list[str]:
    return [f'"{c}"' for c in COLUMNS[table]]
