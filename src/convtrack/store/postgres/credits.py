# ruff: noqa: S608  (the job's SQL is the attribution engine's own; values are parameters)
"""Saving attribution credits in PostgreSQL: replace a job's rows in ``conversion_credits``.

The job's SELECT (with ``?`` parameters, as on every engine) is inserted column by column,
each cast to its column's type, so an untyped ``NULL`` or literal in it lands as DuckDB would
take it. The data-driven models' shares travel as a temporary ``path_shares`` table.
The attribution engine writes that SQL in PostgreSQL's dialect (attribution/dialect_pg.py); a
statement that fails fails the save, which then changes nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa

from convtrack.store.base import CreditsJob
from convtrack.store.postgres.sql import scan

# conversion_credits' columns (migration 0006) but computed_at, in order, with their types.
COLUMNS = (
    ("conversion_key", "text"), ("event_id", "text"), ("conversion", "text"),
    ("converted_at", "timestamptz"), ("model", "text"), ("touch_id", "text"),
    ("touch_at", "timestamptz"), ("kind", "text"), ("position", "integer"),
    ("touches", "integer"), ("channel", "text"), ("source", "text"), ("medium", "text"),
    ("campaign", "text"), ("ad", "text"), ("credit", "float8"), ("value_credit", "float8"),
    ("currency", "text"),
)  # fmt: skip
_NAMES = ", ".join(name for name, _ in COLUMNS)
_CAST = ", ".join(f"CAST(c.{name} AS {typ})" for name, typ in COLUMNS)


def _pg_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type):
        return "float8"
    return "text"


def _load_shares(con: psycopg.Connection[Any], shares: pa.Table) -> None:
    names = shares.column_names
    types = [_pg_type(t) for t in shares.schema.types]
    con.execute(
        "CREATE TEMPORARY TABLE path_shares ("
        + ", ".join(f'"{n}" {t}' for n, t in zip(names, types, strict=True))
        + ") ON COMMIT DROP"
    )
    with con.cursor() as cur, cur.copy("COPY path_shares FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in zip(*(c.to_pylist() for c in shares.columns), strict=True):
            copy.write_row(row)


def save(con: psycopg.Connection[Any], job: CreditsJob) -> int:
    """In the caller's transaction: delete the job's models' rows in its range, insert its
    rows; how many were inserted."""
    where: list[str] = ["model = ANY(%s)"]
    params: list[Any] = [list(job.models)]
    for op, day in ((">=", job.start), ("<", job.end)):
        if day is not None:
            where.append(f"converted_at {op} CAST(%s AS timestamptz)")
            params.append(f"{day.isoformat()} 00:00:00+00:00")
    if job.shares is not None:
        _load_shares(con, job.shares)
    con.execute(f"DELETE FROM conversion_credits WHERE {' AND '.join(where)}", params)
    inserted = con.execute(
        f"INSERT INTO conversion_credits ({_NAMES}, computed_at) SELECT {_CAST}, now()"
        f" FROM ({scan(job.sql).sql}) AS c({_NAMES})",
        list(job.params),
    )
    return inserted.rowcount
