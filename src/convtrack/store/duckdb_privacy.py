# ruff: noqa: S608  (SQL text is composed from the fixed names below; values are ? parameters)
"""Rights and retention in DuckDB: find, export and erase one person's rows; tombstones;
retention purge and raw-IP expiry. See migration 0010_privacy and docs/privacy.md.

The caller (``DuckDBStore``) holds the writer's lock and the transaction; this module says
which rows belong to a person and how they go. Every value travels as a ``?`` parameter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import msgspec

from convtrack.events import Event, Rejected
from convtrack.store.base import Person

# Identifier kinds, named as the events columns that hold them.
KINDS = (
    "anonymous_id", "user_id", "email_sha256", "phone_sha256", "external_id_sha256",
    "advertising_id_sha256",
)  # fmt: skip
_HASHED = frozenset(k for k in KINDS if k.endswith("_sha256"))
# Where a quarantined payload (enrich.pii.scrub_payload's output) keeps each kind.
_PAYLOAD_PATHS = {
    "anonymous_id": "$.anonymous_id",
    "user_id": "$.user_id",
    "email_sha256": "$.identifiers.email_sha256",
    "phone_sha256": "$.identifiers.phone_sha256",
    "external_id_sha256": "$.identifiers.external_id_sha256",
    "advertising_id_sha256": "$.identifiers.advertising_id_sha256",
}
# Tables holding person data keyed by event id, with their event-id columns. A table that does
# not exist (yet) is skipped, so a later stage (forwarding's outbox, delivery_log) only adds a
# line here. Retention purge leaves these alone: they are aggregates or delivery records.
EVENT_KEYED: dict[str, tuple[str, ...]] = {
    "conversion_credits": ("event_id", "touch_id"),
    "outbox": ("event_id",),
    "delivery_log": ("event_id",),
    "event_copies": ("event_id",),
}
_SEP = "chr(31)"  # between kind and value in one list of identifier keys
_LIST = "?::VARCHAR[]"


def tombstone_hash(kind: str, value: str) -> str:
    """What a tombstone holds for an identifier: never the raw value."""
    if kind in _HASHED:
        return value
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _values(person: Person, kind: str) -> list[str]:
    return [v for k, v in person.identifiers if k == kind]


def _keys(person: Person) -> list[str]:
    return [f"{k}\x1f{v}" for k, v in person.identifiers]


def _any_kind(person: Person, column: Any) -> tuple[str, list[Any]]:
    """``column(kind)`` matches one of the person's values of that kind, for any kind."""
    clauses = [f"list_contains({_LIST}, {column(kind)})" for kind in KINDS]
    return "(" + " OR ".join(clauses) + ")", [_values(person, kind) for kind in KINDS]


def _events_where(person: Person) -> tuple[str, list[Any]]:
    return _any_kind(person, lambda kind: kind)


def _quarantine_where(person: Person) -> tuple[str, list[Any]]:
    match, params = _any_kind(person, lambda kind: f"p->>'{_PAYLOAD_PATHS[kind]}'")
    return (
        "reject_id IN (SELECT reject_id FROM (SELECT reject_id, CASE WHEN json_valid(payload)"
        f" THEN CAST(payload AS JSON) END AS p FROM quarantine) WHERE {match})",
        params,
    )


def _identity_wheres(person: Person) -> dict[str, tuple[str, list[Any]]]:
    persons, keys = list(person.person_ids), _keys(person)
    anonymous = _values(person, "anonymous_id")
    return {
        "identity_people": (
            f"(list_contains({_LIST}, person_id) OR list_contains({_LIST}, anonymous_id))",
            [persons, anonymous],
        ),
        "identity_identifiers": (
            f"(list_contains({_LIST}, person_id) OR list_contains({_LIST},"
            f" kind || {_SEP} || value))",
            [persons, keys],
        ),
        "identity_merges": (
            f"(list_contains({_LIST}, kept) OR list_contains({_LIST}, absorbed)"
            f" OR list_contains({_LIST}, via_kind || {_SEP} || via_value))",
            [persons, persons, keys],
        ),
        "identity_refused": (
            f"(list_contains({_LIST}, person_id) OR list_contains({_LIST}, other_person_id)"
            f" OR list_contains({_LIST}, via_kind || {_SEP} || via_value))",
            [persons, persons, keys],
        ),
    }


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {r[0] for r in rows}


def wheres(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, tuple[str, list[Any]]]:
    """Per table holding this person's data: the WHERE clause that finds their rows.

    The person's events are found first: tables keyed by event id match those event ids."""
    where, params = _events_where(person)
    event_ids = [r[0] for r in con.execute(f"SELECT event_id FROM events WHERE {where}", params)
                 .fetchall()]  # fmt: skip
    found = {"events": (where, params), "quarantine": _quarantine_where(person)}
    found |= _identity_wheres(person)
    existing = _tables(con)
    for table, columns in EVENT_KEYED.items():
        if table in existing:
            clause = " OR ".join(f"list_contains({_LIST}, {c})" for c in columns)
            found[table] = (f"({clause})", [event_ids for _ in columns])
    return found


def rows(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, list[dict[str, Any]]]:
    """Every row held about the person, per table; JSON columns decoded."""
    out = {}
    for table, (where, params) in wheres(con, person).items():
        cur = con.execute(f"SELECT * FROM {table} WHERE {where}", params)
        out[table] = _dicts(cur)
    return out


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    json_cols = {d[0] for d in cur.description if str(d[1]) == "JSON"}
    found = []
    for row in cur.fetchall():
        item = dict(zip(names, row, strict=True))
        for name in json_cols:
            if isinstance(item[name], str):
                item[name] = msgspec.json.decode(item[name])
        found.append(item)
    return found


def count(con: duckdb.DuckDBPyConnection, person: Person) -> dict[str, int]:
    return {
        table: int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
                   .fetchall()[0][0])
        for table, (where, params) in wheres(con, person).items()
    }  # fmt: skip


def erase(
    con: duckdb.DuckDBPyConnection, person: Person, erasure_id: str, at: datetime
) -> tuple[dict[str, int], list[str]]:
    """Delete the person's rows, write their tombstones and the erasure log row, inside the
    caller's transaction. Returns the counts per table and the tombstone hashes."""
    found = wheres(con, person)
    counts = {}
    for table, (where, params) in found.items():  # event ids were looked up beforehand
        counts[table] = int(con.execute(f"DELETE FROM {table} WHERE {where}", params)
                            .fetchall()[0][0])  # fmt: skip
    hashes = sorted({tombstone_hash(k, v) for k, v in person.identifiers})
    kinds = sorted({k for k, _ in person.identifiers})
    con.executemany(
        "INSERT INTO privacy_tombstones (hash, kind, erasure_id, erased_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [[tombstone_hash(k, v), k, erasure_id, at] for k, v in sorted(set(person.identifiers))],
    )
    con.execute(
        "INSERT INTO privacy_erasures (erasure_id, erased_at, requested, kinds, hashes, counts)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [erasure_id, at, person.requested, _json(kinds), _json(hashes), _json(counts)],
    )
    return counts, hashes


def _json(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


def load_tombstones(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    if "privacy_tombstones" not in _tables(con):
        return frozenset()
    return frozenset(r[0] for r in con.execute("SELECT hash FROM privacy_tombstones").fetchall())


def _hits(tombstones: frozenset[str], identifiers: Iterable[tuple[str, Any]]) -> bool:
    return any(
        isinstance(v, str) and v and tombstone_hash(k, v) in tombstones for k, v in identifiers
    )


def _event_identifiers(event: Event) -> list[tuple[str, Any]]:
    h = event.hashed
    return [
        ("anonymous_id", event.anonymous_id),
        ("user_id", event.user_id),
        ("email_sha256", h.email_sha256),
        ("phone_sha256", h.phone_sha256),
        ("external_id_sha256", h.external_id_sha256),
        ("advertising_id_sha256", h.advertising_id_sha256),
    ]


def _payload_identifiers(payload: str) -> list[tuple[str, Any]]:
    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return []
    if not isinstance(data, dict):
        return []
    ids = data.get("identifiers")
    ids = ids if isinstance(ids, dict) else {}
    return [("anonymous_id", data.get("anonymous_id")), ("user_id", data.get("user_id"))] + [
        (kind, ids.get(kind)) for kind in sorted(_HASHED)
    ]


def drop_erased(
    tombstones: frozenset[str], events: Sequence[Event], rejected: Sequence[Rejected]
) -> tuple[list[Event], list[Rejected]]:
    """The events and quarantine records none of whose identifiers is tombstoned."""
    kept = [e for e in events if not _hits(tombstones, _event_identifiers(e))]
    kept_rejects = [r for r in rejected if not _hits(tombstones, _payload_identifiers(r.payload))]
    return kept, kept_rejects


# -- retention --------------------------------------------------------------------------------
_RETAINED = ("events", "quarantine")  # the tables holding IPs
# What retention deletes by age: table -> condition ({} is the parameter's placeholder).
# Finished outbox jobs and their delivery log go too; a job still pending stays until its
# destination's max_age makes it a dead letter.
PURGED = {
    "events": "received_at < {}",
    "quarantine": "received_at < {}",
    "event_copies": "received_at < {}",
    "outbox": "created_at < {} AND status IN ('delivered', 'dead')",
    "delivery_log": '"at" < {}',
}


def purge(con: duckdb.DuckDBPyConnection, before: datetime, dry_run: bool) -> dict[str, int]:
    """Delete (or count) the rows of every ``PURGED`` table older than ``before``, then the
    identity rows those events were the last to hold (``expire_identity``)."""
    verb = "SELECT count(*) FROM" if dry_run else "DELETE FROM"
    counts = {
        table: int(con.execute(f"{verb} {table} WHERE {where.format('?')}", [before])
                   .fetchall()[0][0])
        for table, where in PURGED.items()
    }  # fmt: skip
    return counts | expire_identity(con, before, dry_run, scan=counts["events"] > 0)


# -- retention of the identity graph ----------------------------------------------------------
# Merges and refusals are a log: they go by their "at". An identifier goes when no event kept
# holds it any more (``_LIVE``: one scan of the kept events). A person who loses the identifier
# its id was derived from (identity.graph: ``person:`` + sha256(kind, chr 31, value)[:24])
# while keeping others is renamed after its oldest remaining one, so the id is free again for
# a new person founded by that identifier (who would otherwise merge into this one by name).
IDENTITY_LOG = ("identity_merges", "identity_refused")
_LIVE = (
    f"SELECT DISTINCT kind, value FROM (UNPIVOT (SELECT {', '.join(KINDS)} FROM events"
    f" WHERE received_at >= ?) ON {', '.join(KINDS)} INTO NAME kind VALUE value)"
)
_GONE, _RENAMED = "_purge_gone", "_purge_renamed"
_IDS = "identity_identifiers"
_IS_GONE = f"EXISTS (SELECT 1 FROM {_GONE} g WHERE g.kind = {{0}} AND g.value = {{1}})"
_PERSON_ID = "'person:' || left(sha256({0}), 24)"  # of a key, kind || chr(31) || value
# Every column naming a person: a renamed person is renamed in all of them.
PERSON_COLUMNS = (
    ("identity_identifiers", "person_id"), ("identity_people", "person_id"),
    ("identity_merges", "kept"), ("identity_merges", "absorbed"),
    ("identity_refused", "person_id"), ("identity_refused", "other_person_id"),
)  # fmt: skip


def expire_identity(
    con: duckdb.DuckDBPyConnection, before: datetime, dry_run: bool, scan: bool
) -> dict[str, int]:
    """Delete (or count) the identity rows retention expires; ``scan``: look for identifiers
    no kept event holds (only worth it when events were purged). Counts per table."""
    verb = "SELECT count(*) FROM" if dry_run else "DELETE FROM"
    counts = {"identity_identifiers": 0, "identity_people": 0}
    counts |= {
        table: int(con.execute(f'{verb} {table} WHERE "at" < ?', [before]).fetchall()[0][0])
        for table in IDENTITY_LOG
    }  # fmt: skip
    if not scan:
        return counts
    con.execute(  # a failure rolls the transaction back, the temporary tables with it
        f"CREATE OR REPLACE TEMP TABLE {_GONE} AS SELECT kind, value FROM (SELECT kind, value"
        " FROM identity_identifiers UNION SELECT 'anonymous_id', anonymous_id"
        f" FROM identity_people) held WHERE NOT EXISTS (SELECT 1 FROM ({_LIVE}) live"
        " WHERE live.kind = held.kind AND live.value = held.value)",
        [before],
    )
    if not dry_run:
        _rename_founderless(con)
    for table, where in (
        ("identity_identifiers", _IS_GONE.format(f"{_IDS}.kind", f"{_IDS}.value")),
        ("identity_people", _IS_GONE.format("'anonymous_id'", "identity_people.anonymous_id")),
    ):
        counts[table] = int(con.execute(f"{verb} {table} WHERE {where}").fetchall()[0][0])
    con.execute(f"DROP TABLE {_GONE}")
    return counts


def _rename_founderless(con: duckdb.DuckDBPyConnection) -> None:
    """Rename each person whose founding identifier is gone but not all its members."""
    key_i, key_j = (f"{t}.kind || {_SEP} || {t}.value" for t in "ij")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_RENAMED} AS SELECT person_id AS old,"
        f" {_PERSON_ID.format('k')}"
        f" AS new FROM (SELECT person_id, min({{'f': first_seen, 'k': {key_i}}}).k AS k"
        f" FROM identity_identifiers i WHERE NOT {_IS_GONE.format('i.kind', 'i.value')}"
        " AND person_id IN (SELECT j.person_id FROM identity_identifiers j"
        f" WHERE {_IS_GONE.format('j.kind', 'j.value')} AND {_PERSON_ID.format(key_j)}"
        " = j.person_id)"
        " GROUP BY person_id)"
    )
    if con.execute(f"SELECT count(*) FROM {_RENAMED}").fetchall()[0][0]:
        for table, column in PERSON_COLUMNS:
            con.execute(
                f"UPDATE {table} SET {column} = r.new FROM {_RENAMED} r"
                f" WHERE {table}.{column} = r.old"
            )
    con.execute(f"DROP TABLE {_RENAMED}")


def raw_ips(con: duckdb.DuckDBPyConnection, before: datetime) -> list[str]:
    """The distinct IPs stored with rows received before ``before``."""
    found = con.execute(
        "SELECT ip FROM events WHERE received_at < ? AND ip IS NOT NULL UNION"
        " SELECT ip FROM quarantine WHERE received_at < ? AND ip IS NOT NULL ORDER BY ip",
        [before, before],
    ).fetchall()
    return [r[0] for r in found]


def replace_ips(
    con: duckdb.DuckDBPyConnection, before: datetime, mapping: dict[str, str | None]
) -> dict[str, int]:
    """Replace each stored IP by its mapping in rows received before ``before``."""
    old, new = list(mapping), list(mapping.values())
    return {
        table: int(con.execute(
            f"UPDATE {table} SET ip = m.new FROM (SELECT unnest({_LIST}) AS old,"
            f" unnest({_LIST}) AS new) m WHERE {table}.ip = m.old AND {table}.received_at < ?",
            [old, new, before],
        ).fetchall()[0][0])
        for table in _RETAINED
    }  # fmt: skip
