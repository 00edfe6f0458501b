# ruff: noqa: S608  (the only SQL text composed here is IN-lists of ? placeholders)
"""Look a person up in the stored identity graph: ``convtrack people show``.

An identifier is given in clear (an email, a phone, a user id, …); email, phone and external
id are normalised and hashed exactly as ingest does before the lookup, so nothing raw is
ever sent to the store. Portable read-only SQL with ``?`` parameters, through ``query``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from convtrack.enrich.pii import (
    hash_normalised,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)
from convtrack.errors import ConvtrackError
from convtrack.store import QueryResult

# Option name → (kind in the graph, normaliser; None: the value is kept as given)
KINDS = {
    "email": ("email_sha256", normalise_email),
    "phone": ("phone_sha256", normalise_phone),
    "external_id": ("external_id_sha256", normalise_external_id),
    "user_id": ("user_id", None),
    "anonymous_id": ("anonymous_id", None),
}


class Source(Protocol):
    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult: ...


def identifier(option: str, raw: str) -> tuple[str, str]:
    """``(kind, value)`` as stored: hashed for email, phone and external id."""
    kind, normalise = KINDS[option]
    if normalise is None:
        return kind, raw
    hashed = hash_normalised(normalise(raw))
    if hashed is None:
        raise ConvtrackError("invalid_identifier", f"{option} {raw!r} is empty once normalised")
    return kind, hashed


def _rows(source: Source, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    result = source.query(sql, params)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def show(source: Source, kind: str, value: str) -> dict[str, Any]:
    """The person holding ``(kind, value)``: identifiers, devices, events, merges."""
    found = _rows(
        source, "SELECT person_id FROM identity_identifiers WHERE kind = ? AND value = ?",
        [kind, value],
    )  # fmt: skip
    if not found:
        stitched = _rows(source, "SELECT count(*) AS n FROM identity_identifiers", [])[0]["n"]
        hint = "" if stitched else " (no people are stitched yet: run `convtrack people rebuild`)"
        raise ConvtrackError("person_not_found", f"No person has this {kind}{hint}.", 404)
    person = found[0]["person_id"]
    members = _rows(
        source, "SELECT kind, value, first_seen FROM identity_identifiers WHERE person_id = ? "
        "ORDER BY first_seen, kind, value", [person],
    )  # fmt: skip
    ids = [m["value"] for m in members if m["kind"] == "anonymous_id"]
    users = [m["value"] for m in members if m["kind"] == "user_id"]
    where, params = _events_where(ids, users)
    devices = _rows(
        source, "SELECT anonymous_id, min(occurred_at) AS first_seen, max(occurred_at) AS "
        f"last_seen, count(*) AS events, max(user_agent) AS user_agent FROM events WHERE {where} "
        "GROUP BY anonymous_id ORDER BY first_seen", params,
    )  # fmt: skip
    events = _rows(
        source, "SELECT event_name, count(*) AS events, max(occurred_at) AS last FROM events "
        f"WHERE {where} GROUP BY event_name ORDER BY events DESC, event_name", params,
    )  # fmt: skip
    consent = _rows(
        source, "SELECT CAST(consent AS VARCHAR) AS consent, count(*) AS events FROM events "
        f"WHERE {where} GROUP BY 1 ORDER BY events DESC", params,
    )  # fmt: skip
    merges = _rows(
        source, "SELECT kept, absorbed, via_kind, event_id, \"at\" FROM identity_merges "
        "WHERE kept = ? OR absorbed = ? ORDER BY \"at\"", [person, person],
    )  # fmt: skip
    return {
        "person_id": person, "identifiers": members, "devices": devices, "events": events,
        "consent": consent, "merges": merges,
    }  # fmt: skip


def _events_where(anonymous: list[str], users: list[str]) -> tuple[str, list[Any]]:
    parts, params = [], []
    if anonymous:
        parts.append("anonymous_id IN (" + ", ".join("?" for _ in anonymous) + ")")
        params += anonymous
    if users:
        parts.append("user_id IN (" + ", ".join("?" for _ in users) + ")")
        params += users
    return ("(" + " OR ".join(parts) + ")") if parts else "FALSE", params
