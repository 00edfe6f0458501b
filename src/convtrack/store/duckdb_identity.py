"""The identity graph in DuckDB: kept in step at ingest, or replaced whole by a rebuild.

``Stitching`` holds the graph in memory beside the writer and, inside each ``append``'s
transaction, stitches the events that transaction inserted and writes the delta; ``replace``
and ``rebuild`` rewrite the four ``identity_*`` tables whole. The caller (``DuckDBStore``)
holds the writer's lock and the transaction; rows go in as one Arrow batch per table. See
migration 0007_identity; 0012 drops the two primary keys (the graph keeps identifiers unique).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from convtrack.store.duckdb_base import ARROW_ROWS, run_on_arrow

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphDelta, GraphRows, IdentityGraph
    from convtrack.identity.records import StitchPolicy

_TEXT, _INT, _AT = pa.string(), pa.int64(), pa.timestamp("us", tz="UTC")
_SCHEMAS: dict[str, pa.Schema] = {
    "identity_people": pa.schema([("anonymous_id", _TEXT), ("person_id", _TEXT)]),
    "identity_identifiers": pa.schema(
        [("kind", _TEXT), ("value", _TEXT), ("person_id", _TEXT), ("first_seen", _INT)]
    ),
    "identity_merges": pa.schema(
        [
            ("kept", _TEXT),
            ("absorbed", _TEXT),
            ("via_kind", _TEXT),
            ("via_value", _TEXT),
            ("event_id", _TEXT),
            ("at", _AT),
        ]
    ),
    "identity_refused": pa.schema(
        [
            ("person_id", _TEXT),
            ("other_person_id", _TEXT),
            ("via_kind", _TEXT),
            ("via_value", _TEXT),
            ("reason", _TEXT),
            ("size", _INT),
            ("cap", _INT),
            ("event_id", _TEXT),
            ("at", _AT),
        ]
    ),
}
TABLES = tuple(_SCHEMAS)  # the four identity_* tables


def _table(schema: pa.Schema, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.table(
        [pa.array(list(c), t) for c, t in zip(columns, schema.types, strict=True)], schema=schema
    )


def replace(
    con: duckdb.DuckDBPyConnection, rows: GraphRows, people: Sequence[tuple[str, str]]
) -> None:
    """Delete every identity row and insert the given ones, inside the caller's transaction.

    The tables have no primary key (migration 0012): a key given twice fails here instead."""
    _check_unique("identity_identifiers", [(kind, value) for kind, value, *_ in rows.identifiers])
    _check_unique("identity_people", [anonymous_id for anonymous_id, _ in people])
    batches = {
        "identity_people": people,
        "identity_identifiers": rows.identifiers,
        "identity_merges": rows.merges,
        "identity_refused": rows.refused,
    }
    for name, table_rows in batches.items():
        con.execute(f"DELETE FROM {name}")  # noqa: S608
        _insert(con, name, table_rows)


def _check_unique(table: str, keys: Sequence[Any]) -> None:
    if len(set(keys)) < len(keys):
        twice = next(key for key, n in Counter(keys).items() if n > 1)
        raise ValueError(f"duplicate key {twice!r} for {table}: an identifier has one person")


def rebuild(con: duckdb.DuckDBPyConnection, stitching: Stitching) -> dict[str, int]:
    """Stitch every stored event from scratch with the configured policy and replace the
    tables, inside the caller's transaction; the new graph becomes the one kept in memory."""
    from convtrack.identity.graph import IdentityGraph, people_table
    from convtrack.identity.rebuild import EVENTS_SQL, stitch, summary

    graph, events = stitch(con.execute(EVENTS_SQL).fetchall(), IdentityGraph(stitching.policy))
    replace(con, graph.to_rows(), people_table(graph))
    stitching.adopt(graph)
    return summary(graph, events)


def _insert(con: duckdb.DuckDBPyConnection, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        return
    schema = _SCHEMAS[name]
    columns = ", ".join(f'"{c}"' for c in schema.names)  # "at" is a keyword
    sql = f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {ARROW_ROWS}"  # noqa: S608
    run_on_arrow(con, sql, _table(schema, rows))


# -- incremental stitching at ingest ---------------------------------------------------------


class Stitching:
    """The identity graph beside the writer, kept in step with the stored events.

    ``observe`` stitches the events one transaction inserted and writes only what changed
    (new identifiers, persons merged, refusals) into the same transaction, so the tables never
    disagree with the events. The graph is loaded from the tables the first time it is needed;
    ``forget`` drops it (after a rollback, a rebuild, or a new policy) so it is loaded again.
    """

    def __init__(self) -> None:
        from convtrack.identity.records import StitchPolicy

        self.policy = StitchPolicy()
        self.at_ingest = True
        self._graph: IdentityGraph | None = None

    def configure(self, policy: StitchPolicy, at_ingest: bool) -> None:
        self.policy, self.at_ingest = policy, at_ingest
        self._graph = None

    def forget(self) -> None:
        self._graph = None

    def adopt(self, graph: IdentityGraph) -> None:
        """Keep a graph just written whole (``rebuild``) instead of loading it again."""
        self._graph = graph

    def observe(self, con: duckdb.DuckDBPyConnection, inserted: pa.Table | None) -> None:
        """Stitch the inserted events (ordered as a rebuild orders them) and write the delta."""
        if not self.at_ingest or inserted is None or not inserted.num_rows:
            return
        found = _identified(inserted)
        if found is None:
            return
        from convtrack.identity.rebuild import stitch_columns

        graph = self._load(con)
        mark = graph.mark()
        columns, event = found
        stitch_columns(columns, graph, event)
        write_delta(con, graph.changes_since(mark))

    def _load(self, con: duckdb.DuckDBPyConnection) -> IdentityGraph:
        if self._graph is None:
            from convtrack.identity.graph import GraphRows, IdentityGraph

            rows = GraphRows(*(_fetch(con, name, _SCHEMAS[name].names) for name in _GRAPH_TABLES))
            self._graph = IdentityGraph.from_rows(rows, self.policy)
        return self._graph


_GRAPH_TABLES = ("identity_identifiers", "identity_merges", "identity_refused")


def _fetch(con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str]) -> list[Any]:
    columns = ", ".join(f'"{c}"' for c in names)
    return con.execute(f"SELECT {columns} FROM {table}").fetchall()  # noqa: S608


def _identified(
    batch: pa.Table,
) -> tuple[list[list[Any]], Callable[[int], tuple[str, datetime]]] | None:
    """The identifier columns of the events with an identifier, in the order a rebuild
    replays them (sorted by Arrow), and how to get row ``i``'s ``(event_id, occurred_at)``;
    an Arrow mask skips the rest without touching Python objects. None: no identifiers."""
    from convtrack.identity.rebuild import COLUMNS

    mask = functools.reduce(pc.or_, (pc.is_valid(batch.column(c)) for c in COLUMNS))
    if not pc.any(mask).as_py():
        return None
    some = batch.select(["event_id", "occurred_at", *COLUMNS]).filter(mask)
    some = some.take(
        pc.sort_indices(some, [("occurred_at", "ascending"), ("event_id", "ascending")])
    )
    ids = some.column("event_id").to_pylist()
    micros = some.column("occurred_at").cast(pa.int64()).to_pylist()  # datetimes only when asked
    columns = [some.column(c).to_pylist() for c in COLUMNS]
    return columns, lambda i: (ids[i], _EPOCH + timedelta(microseconds=micros[i]))


_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))  # the tzinfo Arrow gives a UTC column


def write_delta(con: duckdb.DuckDBPyConnection, delta: GraphDelta) -> None:
    """Bring the tables up to the graph: one statement per kind of change, never per event."""
    if delta.moved:
        moved = pa.table({"old": [o for o, _ in delta.moved], "new": [n for _, n in delta.moved]})
        for sql in _MOVED_SQL:
            run_on_arrow(con, sql, moved)
    _insert(con, "identity_identifiers", delta.identifiers)
    _insert(con, "identity_people", delta.people)
    _insert(con, "identity_merges", delta.merges)
    _insert(con, "identity_refused", delta.refused)


_MOVED_SQL = tuple(
    f"UPDATE {table} SET person_id = m.new FROM {ARROW_ROWS} m"  # noqa: S608
    f" WHERE {table}.person_id = m.old"
    for table in ("identity_identifiers", "identity_people")
)
"""Each person merged away (``old``) becomes the one kept (``new``) in the two tables."""
