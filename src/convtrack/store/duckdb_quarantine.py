"""The quarantine in DuckDB: rejected events kept with their payload and reasons.

``QuarantineMixin`` is the part of ``DuckDBStore`` that writes (inside the append's
transaction) and reads quarantine rows; replay stays with the store, which inserts events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import msgspec

from convtrack.events import Rejected
from convtrack.store.base import QuarantineFilter, QuarantineRow
from convtrack.store.duckdb_base import DuckDBConnection


def _json_text(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


def filter_sql(f: QuarantineFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", f.status), ("source", f.source)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if f.since is not None:
        clauses.append("received_at >= ?")
        params.append(f.since)
    if f.reason:
        clauses.append(
            "contains(lower(array_to_string(json_extract_string(reasons, '$[*].reason')"
            " || json_extract_string(reasons, '$[*].path'), chr(10))), lower(?))"
        )
        params.append(f.reason)
    if f.before is not None:
        clauses.append("(received_at, reject_id) < (?, ?)")
        params.extend(f.before)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def rows_of(cur: duckdb.DuckDBPyConnection) -> list[QuarantineRow]:
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in rows:
        row["reasons"] = msgspec.json.decode(row["reasons"])
    return rows


class QuarantineMixin(DuckDBConnection):
    def _insert_rejected(self, rejected: Sequence[Rejected]) -> None:
        self._con.executemany(
            "INSERT INTO quarantine"
            " (reject_id, received_at, source, key_id, payload, reasons, plan_version,"
            " event_name, ip, user_agent, batch_sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                [
                    r.reject_id,
                    r.received_at,
                    r.source,
                    r.key_id,
                    r.payload,
                    _json_text(r.reasons),
                    r.plan_version,
                    r.event_name,
                    r.ip,
                    r.user_agent,
                    r.batch_sent_at,
                ]
                for r in rejected
            ],
        )

    def count_quarantined(self) -> int:
        row = self._read("SELECT count(*) FROM quarantine").fetchone()
        return int(row[0]) if row else 0

    def list_quarantined(self, filters: QuarantineFilter, limit: int) -> list[QuarantineRow]:
        where, params = filter_sql(filters)
        cur = self._read(
            f"SELECT * FROM quarantine {where}"  # noqa: S608
            " ORDER BY received_at DESC, reject_id DESC LIMIT ?",
            [*params, int(limit)],
        )
        return rows_of(cur)

    def quarantine_reasons(
        self, filters: QuarantineFilter, limit: int
    ) -> list[tuple[str, str, int]]:
        where, params = filter_sql(filters)
        rows = self._read(
            "SELECT r->>'path' AS path, r->>'reason' AS reason, count(*) AS n"  # noqa: S608
            f" FROM (SELECT reasons FROM quarantine {where}) q,"
            " unnest(CAST(q.reasons AS JSON[])) AS t(r)"
            " GROUP BY ALL ORDER BY n DESC, path, reason LIMIT ?",
            [*params, int(limit)],
        ).fetchall()
        return [(str(p), str(r), int(n)) for p, r, n in rows]

    def get_quarantined(self, reject_id: str) -> QuarantineRow | None:
        rows = rows_of(self._read("SELECT * FROM quarantine WHERE reject_id = ?", [reject_id]))
        return rows[0] if rows else None
