"""The identity graph in PostgreSQL: replaced whole, in the caller's transaction.

Stitching at ingest (``configure_identity(at_ingest=True)``) is not implemented on
PostgreSQL yet: ``replace`` is what a rebuild writes with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from convtrack.identity.graph import GraphRows

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
    """Delete every identity row and copy the given ones in."""
    _check_unique("identity_identifiers", [(kind, value) for kind, value, *_ in rows.identifiers])
    _check_unique("identity_people", [anonymous_id for anonymous_id, _ in people])
    batches = {
        "identity_people": people,
        "identity_identifiers": rows.identifiers,
        "identity_merges": rows.merges,
        "identity_refused": rows.refused,
    }
    with con.cursor() as cur:
        for table, table_rows in batches.items():
            cur.execute(f"DELETE FROM {table}")  # noqa: S608  (a fixed table name)
            names = ", ".join(f'"{c}"' for c in COLUMNS[table])
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in table_rows:
                    copy.write_row(row)
