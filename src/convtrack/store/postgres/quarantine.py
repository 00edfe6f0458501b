# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""Quarantine in PostgreSQL: insert rejects, list and count reasons, replay atomically.

Writes run in the caller's transaction on the writer's connection; reads take a cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg

from convtrack.events import Event, Rejected
from convtrack.store.base import QuarantineFilter, QuarantineRow, ReplayStatus
from convtrack.store.postgres import events as pg_events
from convtrack.store.postgres import privacy as pg_privacy

_INSERT = (
    "INSERT INTO quarantine (reject_id, received_at, source, key_id, payload, reasons,"
    " plan_version, event_name, ip, user_agent, batch_sent_at)"
    " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
# A reason or its JSON pointer contains the text (case-insensitive).
_REASON = (
    "EXISTS (SELECT 1 FROM jsonb_array_elements(reasons) r WHERE"
    " strpos(lower(coalesce(r->>'reason', '') || chr(10) || coalesce(r->>'path', '')),"
    " lower(%s)) > 0)"
)


def insert(con: psycopg.Connection[Any], rejected: Sequence[Rejected]) -> None:
    with con.cursor() as cur:
        cur.executemany(
            _INSERT,
            [
                (
                    r.reject_id, r.received_at, r.source, r.key_id, r.payload,
                    msgspec.json.encode(r.reasons).decode(), r.plan_version, r.event_name,
                    r.ip, r.user_agent, r.batch_sent_at,
                )
                for r in rejected
            ],
        )  # fmt: skip


def where(f: QuarantineFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", f.status), ("source", f.source)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if f.since is not None:
        clauses.append("received_at >= %s")
        params.append(f.since)
    if f.reason:
        clauses.append(_REASON)
        params.append(f.reason)
    if f.before is not None:
        clauses.append("(received_at, reject_id) < (%s, %s)")
        params.extend(f.before)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def decoded(cur: psycopg.Cursor[Any]) -> list[QuarantineRow]:
    names = [d.name for d in cur.description or ()]
    found = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    for row in found:
        row["reasons"] = msgspec.json.decode(row["reasons"])
    return found


def list_rows(cur: psycopg.Cursor[Any], f: QuarantineFilter, limit: int) -> list[QuarantineRow]:
    clause, params = where(f)
    cur.execute(
        f"SELECT * FROM quarantine {clause} ORDER BY received_at DESC, reject_id DESC LIMIT %s",
        [*params, int(limit)],
    )
    return decoded(cur)


def reasons(
    cur: psycopg.Cursor[Any], f: QuarantineFilter, limit: int
) -> list[tuple[str, str, int]]:
    clause, params = where(f)
    cur.execute(
        "SELECT path, reason, n FROM (SELECT r->>'path' AS path, r->>'reason' AS reason,"
        f" count(*) AS n FROM (SELECT reasons FROM quarantine {clause}) q,"
        " jsonb_array_elements(q.reasons) r GROUP BY 1, 2) g"
        ' ORDER BY n DESC, path COLLATE "C", reason COLLATE "C" LIMIT %s',
        [*params, int(limit)],
    )
    return [(str(p), str(r), int(n)) for p, r, n in cur.fetchall()]


def get(cur: psycopg.Cursor[Any], reject_id: str) -> QuarantineRow | None:
    cur.execute("SELECT * FROM quarantine WHERE reject_id = %s", [reject_id])
    found = decoded(cur)
    return found[0] if found else None


def replay(
    con: psycopg.Connection[Any], replays: Sequence[tuple[str, Event]]
) -> dict[str, ReplayStatus]:
    """In the caller's transaction: store each replayed event whose row is still quarantined
    (locking those rows, so two replays of one row cannot both store it) and mark it."""
    outcome = {rid: "skipped" for rid, _ in replays}
    open_ids = {
        row[0]
        for row in con.execute(
            "SELECT reject_id FROM quarantine WHERE status = 'quarantined'"
            " AND reject_id = ANY(%s) FOR UPDATE",
            [[rid for rid, _ in replays]],
        ).fetchall()
    }
    todo = {rid: ev for rid, ev in replays if rid in open_ids}
    # an erased person's row stays quarantined until the purge
    kept, _ = pg_privacy.drop_tombstoned(con, list(todo.values()), ())
    if len(kept) < len(todo):
        keep = {id(ev) for ev in kept}
        todo = {rid: ev for rid, ev in todo.items() if id(ev) in keep}
    if not todo:
        return outcome
    new = set(pg_events.insert_new(con, list(todo.values())))
    for rid, ev in todo.items():
        outcome[rid] = "new" if ev.event_id in new else "duplicate"
        new.discard(ev.event_id)  # a second row replaying the same id is a duplicate
    con.execute(
        "UPDATE quarantine q SET status = 'replayed', replayed_at = now(),"
        " replayed_event_id = t.event_id FROM unnest(%s::text[], %s::text[]) AS t(rid, event_id)"
        " WHERE q.reject_id = t.rid",
        [list(todo), [ev.event_id for ev in todo.values()]],
    )
    return outcome
