# ruff: noqa: S608  (SQL text is composed from the fixed names below; values are parameters)
"""Rights in PostgreSQL: find, export and erase one person's rows; tombstones at append;
the retention purge.

Which rows are a person's follows the DuckDB store (store/duckdb_privacy.py: same kinds, same
tombstone hashes, same tables). Several processes write one database, so tombstones are never
cached: each append asks for the hashes of its own identifiers, after taking the lock an erasure
waits on (``LOCK TABLE events``), so an append and an erasure of the same person cannot miss
each other. See docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg

from convtrack.events import Event, Rejected
from convtrack.store.base import Person
from convtrack.store.duckdb_privacy import (
    EVENT_KEYED,
    IDENTITY_LOG,
    KINDS,
    PERSON_COLUMNS,
    PURGED,
    drop_erased,
    tombstone_hash,
)
from convtrack.store.postgres import identity as pg_identity

# Where a quarantined payload keeps each kind (enrich.pii.scrub_payload's output).
_PAYLOAD = {
    "anonymous_id": "p->>'anonymous_id'",
    "user_id": "p->>'user_id'",
    "email_sha256": "p->'identifiers'->>'email_sha256'",
    "phone_sha256": "p->'identifiers'->>'phone_sha256'",
    "external_id_sha256": "p->'identifiers'->>'external_id_sha256'",
    "advertising_id_sha256": "p->'identifiers'->>'advertising_id_sha256'",
}
_KEY = "{0}kind || chr(31) || {0}value"
_JSONB_OID = 3802
Where = tuple[str, list[Any]]


def _values(person: Person, kind: str) -> list[str]:
    return [v for k, v in person.identifiers if k == kind]


def _any_kind(person: Person, column: dict[str, str]) -> Where:
    clauses = [f"{column[kind]} = ANY(%s)" for kind in KINDS]
    return "(" + " OR ".join(clauses) + ")", [_values(person, kind) for kind in KINDS]


def wheres(cur: psycopg.Cursor[Any], person: Person) -> dict[str, Where]:
    """Per table holding this person's data: the WHERE clause that finds their rows (the
    person's events first: tables keyed by event id match those ids)."""
    events = _any_kind(person, {kind: kind for kind in KINDS})
    event_ids = [r[0] for r in cur.execute(f"SELECT event_id FROM events WHERE {events[0]}",
                                           events[1]).fetchall()]  # fmt: skip
    match, params = _any_kind(person, _PAYLOAD)
    persons, anonymous = list(person.person_ids), _values(person, "anonymous_id")
    keys = [f"{k}\x1f{v}" for k, v in person.identifiers]
    via = _KEY.format("via_")
    found = {
        "events": events,
        "quarantine": (
            "reject_id IN (SELECT reject_id FROM (SELECT reject_id,"
            f" convtrack_try_jsonb(payload) AS p FROM quarantine) q WHERE {match})",
            params,
        ),
        "identity_people": (
            "(person_id = ANY(%s) OR anonymous_id = ANY(%s))",
            [persons, anonymous],
        ),
        "identity_identifiers": (
            f"(person_id = ANY(%s) OR {_KEY.format('')} = ANY(%s))",
            [persons, keys],
        ),
        "identity_merges": (
            f"(kept = ANY(%s) OR absorbed = ANY(%s) OR {via} = ANY(%s))",
            [persons, persons, keys],
        ),
        "identity_refused": (
            f"(person_id = ANY(%s) OR other_person_id = ANY(%s) OR {via} = ANY(%s))",
            [persons, persons, keys],
        ),
    }
    for table, columns in EVENT_KEYED.items():
        clause = " OR ".join(f"{c} = ANY(%s)" for c in columns)
        found[table] = (f"({clause})", [event_ids for _ in columns])
    return found


def rows(cur: psycopg.Cursor[Any], person: Person) -> dict[str, list[dict[str, Any]]]:
    """Every row held about the person, per table; JSON columns decoded."""
    out = {}
    for table, (where, params) in wheres(cur, person).items():
        cur.execute(f"SELECT * FROM {table} WHERE {where}", params)
        described = cur.description or []
        names = [d.name for d in described]
        json_cols = [d.name for d in described if d.type_code == _JSONB_OID]
        found = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for item in found:
            for name in json_cols:
                if isinstance(item[name], str):
                    item[name] = msgspec.json.decode(item[name])
        out[table] = found
    return out


def count(cur: psycopg.Cursor[Any], person: Person) -> dict[str, int]:
    counts = {}
    for table, (where, params) in wheres(cur, person).items():
        row = cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def erase(
    con: psycopg.Connection[Any], person: Person, erasure_id: str, at: datetime
) -> dict[str, int]:
    """Delete the person's rows, write their tombstones and the erasure log row, inside the
    caller's transaction, holding off appends until it commits. Counts per table."""
    con.execute("LOCK TABLE events IN SHARE MODE")
    with con.cursor() as cur:
        counts = {
            table: cur.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
            for table, (where, params) in wheres(cur, person).items()
        }
        identifiers = sorted(set(person.identifiers))
        cur.executemany(
            "INSERT INTO privacy_tombstones (hash, kind, erasure_id, erased_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(tombstone_hash(k, v), k, erasure_id, at) for k, v in identifiers],
        )
        hashes = sorted({tombstone_hash(k, v) for k, v in identifiers})
        cur.execute(
            "INSERT INTO privacy_erasures (erasure_id, erased_at, requested, kinds, hashes,"
            " counts) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb)",
            [erasure_id, at, person.requested, _json(sorted({k for k, _ in identifiers})),
             _json(hashes), _json(counts)],
        )  # fmt: skip
    return counts


def _json(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


def _candidates(events: Sequence[Event], rejected: Sequence[Rejected]) -> list[str]:
    """The tombstone hash of every identifier in the batch (what a tombstone would hold)."""
    found: set[str] = set()
    for e in events:
        h = e.hashed
        for kind, value in (("anonymous_id", e.anonymous_id), ("user_id", e.user_id)):
            if value:
                found.add(tombstone_hash(kind, value))
        hashes = (h.email_sha256, h.phone_sha256, h.external_id_sha256, h.advertising_id_sha256)
        found.update(v for v in hashes if v)
    for r in rejected:
        try:
            data = msgspec.json.decode(r.payload)
        except msgspec.DecodeError:
            continue
        if isinstance(data, dict):
            given = data.get("identifiers")
            ids = given if isinstance(given, dict) else {}
            pairs = [("anonymous_id", data.get("anonymous_id")), ("user_id", data.get("user_id")),
                     *((k, ids.get(k)) for k in KINDS if k.endswith("_sha256"))]  # fmt: skip
            found.update(tombstone_hash(k, v) for k, v in pairs if isinstance(v, str) and v)
    return sorted(found)


def drop_tombstoned(
    con: psycopg.Connection[Any], events: Sequence[Event], rejected: Sequence[Rejected]
) -> tuple[Sequence[Event], Sequence[Rejected]]:
    """The batch without an erased person's events and rejects, in the caller's transaction.
    The lock first: an erasure running now commits before the tombstones are read."""
    # One round trip (no parameters: both statements go as one simple query): the lock, then
    # whether anyone was ever erased. Most appends stop here.
    cur = con.execute(
        "LOCK TABLE events IN ROW EXCLUSIVE MODE; SELECT EXISTS (SELECT 1 FROM privacy_tombstones)"
    )
    cur.nextset()  # the SELECT's result
    erased = cur.fetchone()
    candidates = _candidates(events, rejected) if erased and erased[0] else []
    if not candidates:
        return events, rejected
    # Hashes are hex: one comma-joined text dumps far faster than a text array. (A *_sha256
    # value is its own tombstone hash and comes from the client: one with a comma goes apart.)
    odd = [c for c in candidates if "," in c]
    hits = con.execute(
        "SELECT hash FROM privacy_tombstones"
        " WHERE hash = ANY(string_to_array(%s, ',')) OR hash = ANY(%s::text[])",
        [",".join(c for c in candidates if "," not in c), odd],
    ).fetchall()
    if not hits:
        return events, rejected
    return drop_erased(frozenset(h[0] for h in hits), events, rejected)


# -- retention --------------------------------------------------------------------------------
# As in DuckDB (duckdb_privacy.expire_identity, which says why persons are renamed).
_LIVE = (
    "SELECT DISTINCT v.kind, v.value FROM events e CROSS JOIN LATERAL (VALUES "
    + ", ".join(f"('{kind}', e.{kind})" for kind in KINDS)
    + ") AS v(kind, value) WHERE e.received_at >= %s AND v.value IS NOT NULL"
)
_GONE, _RENAMED, _IDS = "_purge_gone", "_purge_renamed", "identity_identifiers"
_IS_GONE = f"EXISTS (SELECT 1 FROM {_GONE} g WHERE g.kind = {{0}} AND g.value = {{1}})"
_PERSON_ID = "'person:' || left(encode(sha256(convert_to({0}, 'UTF8')), 'hex'), 24)"


def _run(cur: psycopg.Cursor[Any], verb: str, table: str, where: str, params: Any = ()) -> int:
    """``verb`` is ``SELECT count(*) FROM`` or ``DELETE FROM``: the rows it matched."""
    cur.execute(f"{verb} {table} WHERE {where}", params)
    if verb.startswith("DELETE"):
        return cur.rowcount
    row = cur.fetchone()
    return int(row[0]) if row else 0


# Events received this long before the scan of the kept events began may still have been
# committed after it (a commit waits in the writer's queue, seconds at most): the locked step
# looks at events received since then again.
LATE_COMMIT_MARGIN = timedelta(minutes=10)


def purge(con: psycopg.Connection[Any], before: datetime, dry_run: bool) -> dict[str, int]:
    """Delete (or count) the rows of every ``PURGED`` table older than ``before`` and the
    identity history older than it, in the caller's transaction. Appends go on meanwhile
    (row locks only). Identifiers are expired afterwards by ``expire_identifiers``."""
    verb = "SELECT count(*) FROM" if dry_run else "DELETE FROM"
    with con.cursor() as cur:
        counts = {
            table: _run(cur, verb, table, where.format("%s"), [before])
            for table, where in PURGED.items()
        }
        counts |= {table: _run(cur, verb, table, '"at" < %s', [before]) for table in IDENTITY_LOG}
    return counts | {"identity_identifiers": 0, "identity_people": 0}


def unheld_identifiers(con: psycopg.Connection[Any], before: datetime) -> list[tuple[str, str]]:
    """The identity rows' (kind, value) that no event received since ``before`` holds: one
    scan of the kept events, in a snapshot, without blocking appends."""
    return [
        (str(k), str(v))
        for k, v in con.execute(
            "SELECT kind, value FROM (SELECT kind, value FROM identity_identifiers UNION"
            " SELECT 'anonymous_id', anonymous_id FROM identity_people) held WHERE NOT EXISTS"
            f" (SELECT 1 FROM ({_LIVE}) live WHERE live.kind = held.kind"
            " AND live.value = held.value)",
            [before],
        ).fetchall()
    ]


def expire_identifiers(
    con: psycopg.Connection[Any],
    candidates: Sequence[tuple[str, str]],
    scanned_at: datetime,
    dry_run: bool,
) -> dict[str, int]:
    """Delete (or count) the identity rows of ``candidates`` (``unheld_identifiers``, found in
    a scan that began at ``scanned_at``) that no event received since then holds either, in
    the caller's transaction. Appends wait for this short step only: it holds the lock an
    erasure takes, so no append stitches an identifier while it goes; the events it checks
    again come from the ``received_at`` index."""
    counts = {"identity_identifiers": 0, "identity_people": 0}
    if not candidates:
        return counts
    if not dry_run:
        con.execute("LOCK TABLE events IN SHARE MODE")
        pg_identity.lock(con)  # in the order appends take both
    verb = "SELECT count(*) FROM" if dry_run else "DELETE FROM"
    kinds, values = [list(c) for c in zip(*candidates, strict=True)]
    with con.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE {_GONE} ON COMMIT DROP AS SELECT c.kind, c.value"
            " FROM unnest(%s::text[], %s::text[]) AS c(kind, value)"
            f" WHERE NOT EXISTS (SELECT 1 FROM ({_LIVE}) live WHERE live.kind = c.kind"
            " AND live.value = c.value)",
            [kinds, values, scanned_at - LATE_COMMIT_MARGIN],
        )
        cur.execute(f"ANALYZE {_GONE}")  # temporary tables are never analysed by autovacuum
        if not dry_run:
            _rename_founderless(cur)
        counts = {
            table: _run(cur, verb, table, where)
            for table, where in (
                ("identity_identifiers", _IS_GONE.format(f"{_IDS}.kind", f"{_IDS}.value")),
                ("identity_people",
                 _IS_GONE.format("'anonymous_id'", "identity_people.anonymous_id")),
            )
        }  # fmt: skip
        cur.execute(f"DROP TABLE {_GONE}")
    return counts


def _rename_founderless(cur: psycopg.Cursor[Any]) -> None:
    """Rename each person whose founding identifier is gone but not all its members."""
    cur.execute(
        f"CREATE TEMP TABLE {_RENAMED} ON COMMIT DROP AS SELECT person_id AS old,"
        f" {_PERSON_ID.format('k')} AS new FROM (SELECT person_id,"
        f" (array_agg({_KEY.format('i.')} ORDER BY first_seen,"
        f' {_KEY.format("i.")} COLLATE "C"))[1] AS k'
        f" FROM identity_identifiers i WHERE NOT {_IS_GONE.format('i.kind', 'i.value')}"
        " AND person_id IN (SELECT j.person_id FROM identity_identifiers j"
        f" WHERE {_IS_GONE.format('j.kind', 'j.value')}"
        f" AND {_PERSON_ID.format(_KEY.format('j.'))} = j.person_id) GROUP BY person_id) r"
    )
    if cur.rowcount:
        for table, column in PERSON_COLUMNS:
            cur.execute(
                f"UPDATE {table} SET {column} = r.new FROM {_RENAMED} r"
                f" WHERE {table}.{column} = r.old"
            )
    cur.execute(f"DROP TABLE {_RENAMED}")
