"""The identity graph in DuckDB: each rebuild replaces the four ``identity_*`` tables whole.

The caller (``DuckDBStore.replace_identity``) holds the writer's lock and the transaction;
this module only says how the rows get in: one Arrow batch per table. See migration
0007_identity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphRows

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
_BATCH = "_identity_rows"


def _table(schema: pa.Schema, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.table(
        [pa.array(list(c), t) for c, t in zip(columns, schema.types, strict=True)], schema=schema
    )


def replace(
    con: duckdb.DuckDBPyConnection, rows: GraphRows, people: Sequence[tuple[str, str]]
) -> None:
    """Delete every identity row and insert the given ones, inside the caller's transaction.

    The caller calls ``release`` once the transaction is over."""
    batches = {
        "identity_people": people,
        "identity_identifiers": rows.identifiers,
        "identity_merges": rows.merges,
        "identity_refused": rows.refused,
    }
    for name, table_rows in batches.items():
        schema = _SCHEMAS[name]
        con.execute(f"DELETE FROM {name}")  # noqa: S608
        if not table_rows:
            continue
        con.register(_BATCH, _table(schema, table_rows))
        columns = ", ".join(f'"{c}"' for c in schema.names)  # "at" is a keyword
        con.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {_BATCH}")  # noqa: S608
        con.unregister(_BATCH)


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Drop a batch ``replace`` left registered (after a failure, or a reopened connection)."""
    with contextlib.suppress(duckdb.Error):
        con.unregister(_BATCH)
