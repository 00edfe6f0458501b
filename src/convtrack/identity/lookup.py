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
    normalise_advertising_id,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)
from convtrack.errors import ConvtrackError
from convtrack.identity.records import KINDS as STORED_KINDS
from convtrack.store import QueryResult

# Option name → (kind in the graph, normaliser; None: the value is kept as given)
KINDS = {
    "email": ("email_sha256", normalise_email),
    "phone": ("phone_sha256", normalise_phone),
    "external_id": ("external_id_sha256", normalise_external_id),
    "advertising_id": ("advertising_id_sha256", normalise_advertising_id),
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
    """The person holding ``(kind, value)``: identifiers, devices (anonymous id and user
    agent, first and last seen), events by name, consent states and decisions, merges."""
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
    where, params = _events_where([(m["kind"], m["value"]) for m in members])
    devices = _rows(
        source, "SELECT anonymous_id, user_agent, min(occurred_at) AS first_seen, "
        f"max(occurred_at) AS last_seen, count(*) AS events FROM events WHERE {where} "
        "GROUP BY anonymous_id, user_agent ORDER BY first_seen, anonymous_id", params,
    )  # fmt: skip
    events = _rows(
        source, "SELECT event_name, count(*) AS events, max(occurred_at) AS last FROM events "
        f"WHERE {where} GROUP BY event_name ORDER BY events DESC, event_name", params,
    )  # fmt: skip
    consent = _rows(
        source, "SELECT CAST(consent AS VARCHAR) AS consent, count(*) AS events FROM events "
        f"WHERE {where} GROUP BY 1 ORDER BY events DESC, 1", params,
    )  # fmt: skip
    decisions = _decisions(source, where, params)
    merges = _rows(
        source, "SELECT kept, absorbed, via_kind, event_id, \"at\" FROM identity_merges "
        "WHERE kept = ? OR absorbed = ? ORDER BY \"at\"", [person, person],
    )  # fmt: skip
    return {
        "person_id": person, "identifiers": members, "devices": devices, "events": events,
        "consent": consent, "consent_decisions": decisions, "merges": merges,
    }  # fmt: skip


def _decisions(source: Source, where: str, params: list[Any]) -> list[dict[str, Any]]:
    """The consent decisions applied at ingest (``events.consent_decision``, migration 0008),
    counted; empty on a store without that column."""
    has = _rows(
        source, "SELECT count(*) AS n FROM information_schema.columns "
        "WHERE table_name = 'events' AND column_name = 'consent_decision'", [],
    )[0]["n"]  # fmt: skip
    if not has:
        return []
    return _rows(
        source, "SELECT CAST(consent_decision AS VARCHAR) AS consent_decision, count(*) AS "
        f"events FROM events WHERE {where} GROUP BY 1 ORDER BY events DESC, 1", params,
    )  # fmt: skip


def _events_where(identifiers: list[tuple[str, str]]) -> tuple[str, list[Any]]:
    """Events holding any of the person's identifiers (event columns are named as kinds)."""
    parts, params = [], []
    for kind in sorted({kind for kind, _ in identifiers} & STORED_KINDS):  # column names
        values = [value for k, value in identifiers if k == kind]
        parts.append(f"{kind} IN (" + ", ".join("?" for _ in values) + ")")
        params += values
    return ("(" + " OR ".join(parts) + ")") if parts else "FALSE", params
