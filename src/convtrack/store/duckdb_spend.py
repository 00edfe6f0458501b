"""Ad spend in DuckDB: one import is one Arrow batch upserted on the spend key.

The caller (``DuckDBStore.upsert_spend``) holds the writer's lock and the transaction; this
module only says how the batch gets in. See docs/spend.md and migration 0005_spend.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import duckdb
import pyarrow as pa

from convtrack.errors import ConvtrackError
from convtrack.store.base import SpendRow

_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("platform", pa.string()),
        ("channel", pa.string()),
        ("campaign", pa.string()),
        ("spend", pa.decimal128(18, 6)),
        ("currency", pa.string()),
        ("impressions", pa.int64()),
        ("clicks", pa.int64()),
    ]
)
_KEY = "day, platform, channel, campaign, currency"
_COUNT_STORED = f"SELECT count(*) FROM spend s SEMI JOIN _spend b USING ({_KEY})"  # noqa: S608
_UPSERT = (
    f"INSERT INTO spend ({', '.join(_SCHEMA.names)}, imported_at, source)"  # noqa: S608
    f" SELECT *, now(), ? FROM _spend ON CONFLICT ({_KEY}) DO UPDATE SET"
    " spend = excluded.spend, impressions = excluded.impressions, clicks = excluded.clicks,"
    " imported_at = excluded.imported_at, source = excluded.source"
)


def check_unique(rows: Sequence[SpendRow]) -> None:
    """Two rows with one key would make the import's result depend on their order."""
    seen: dict[tuple[object, ...], int] = {}
    for index, row in enumerate(rows):
        first = seen.setdefault(row.key, index)
        if first != index:
            raise ConvtrackError(
                "duplicate_spend_key",
                f"Spend rows {first} and {index} have the same day, platform, channel, "
                "campaign and currency; merge them or drop one.",
                422,
            )


def to_arrow(rows: Sequence[SpendRow]) -> pa.Table:
    columns = {name: [getattr(r, name) for r in rows] for name in _SCHEMA.names}
    return pa.table(columns, schema=_SCHEMA)


def upsert(con: duckdb.DuckDBPyConnection, rows: Sequence[SpendRow], source: str) -> dict[str, int]:
    """Insert or replace ``rows`` inside the caller's transaction; count what each did.

    The caller calls ``release`` once the transaction is over (an aborted transaction
    refuses to unregister the batch)."""
    con.register("_spend", to_arrow(rows))
    try:
        found = con.execute(_COUNT_STORED).fetchone()
        replaced = int(found[0]) if found else 0
        con.execute(_UPSERT, [source]).fetchall()
    except duckdb.ConstraintException as exc:
        reason = str(exc).splitlines()[0]
        raise ConvtrackError("invalid_spend", f"A spend row breaks a rule: {reason}", 422) from None
    return {"inserted": len(rows) - replaced, "replaced": replaced}


def release(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the batch ``upsert`` registered (gone already if the connection was reopened)."""
    with contextlib.suppress(duckdb.Error):
        con.unregister("_spend")
