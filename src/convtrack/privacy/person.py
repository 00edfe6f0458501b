# ruff: noqa: S608  (the only SQL text composed here is IN-lists of ? placeholders)
"""Who a rights request is about: the whole stitched person behind one identifier.

The identifier is given in clear or already hashed (``identity.lookup.identifier`` hashes an
email, phone or external id exactly as ingest does). Every identifier stitched to it in the
identity graph belongs to the request; when the graph does not know it, the identifier alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convtrack.errors import ConvtrackError
from convtrack.identity.lookup import KINDS, Source, identifier
from convtrack.store.base import Person

OPTIONS = tuple(KINDS)  # email, phone, external_id, advertising_id, user_id, anonymous_id


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join("?" for _ in values) + ")"


def _column(source: Source, sql: str, params: Sequence[Any]) -> list[Any]:
    return [row[0] for row in source.query(sql, params).rows]


def request_identifier(fields: dict[str, Any]) -> tuple[str, str]:
    """The one ``(option, value)`` a request names, e.g. ``{"email": "a@b.c"}``."""
    named = [(o, v) for o, v in fields.items() if o in OPTIONS and v is not None]
    if len(named) != 1 or not isinstance(named[0][1], str) or not named[0][1].strip():
        raise ConvtrackError(
            "invalid_identifier",
            f"Name exactly one non-empty identifier: one of {', '.join(OPTIONS)}.",
            422,
        )
    return named[0]


def resolve(source: Source, option: str, raw: str) -> Person:
    """The person holding ``option`` = ``raw``, with every identifier stitched to it."""
    kind, value = identifier(option, raw)
    persons = _column(
        source,
        "SELECT person_id FROM identity_identifiers WHERE kind = ? AND value = ?"
        " UNION SELECT person_id FROM identity_people WHERE ? = 'anonymous_id'"
        " AND anonymous_id = ?",
        [kind, value, kind, value],
    )
    found = {(kind, value)}
    if persons:
        rows = source.query(
            f"SELECT kind, value FROM identity_identifiers WHERE person_id IN {_in(persons)}",
            persons,
        ).rows
        found |= {(str(k), str(v)) for k, v in rows}
        anonymous = _column(
            source, f"SELECT anonymous_id FROM identity_people WHERE person_id IN {_in(persons)}",
            persons,
        )  # fmt: skip
        found |= {("anonymous_id", str(a)) for a in anonymous}
    return Person(tuple(sorted(found)), tuple(sorted(str(p) for p in persons)), kind)
