"""The identity stage's vocabulary: identifier kinds, the stitching policy, and its records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Identifier = tuple[str, str]
"""``(kind, value)``; values of the ``*_sha256`` kinds arrive already hashed."""

ANONYMOUS_ID = "anonymous_id"
KINDS: frozenset[str] = frozenset(
    {ANONYMOUS_ID, "user_id", "email_sha256", "phone_sha256", "external_id_sha256"}
)

# Reasons a link is refused (``Refusal.reason``).
KIND_NOT_MERGING = "kind_not_merging"
MAX_IDENTIFIERS = "max_person_identifiers"
MAX_ANONYMOUS_IDS = "max_person_anonymous_ids"


@dataclass(frozen=True)
class StitchPolicy:
    """Which kinds may join people, and how large one person may grow (``None`` = no cap).

    The caps stop one shared computer or one bad id (a constant ``"undefined"`` user id, a
    test email) from merging thousands of people: a merge whose result would exceed a cap is
    refused, and the identifiers stay in their separate persons.
    """

    merge_kinds: frozenset[str] = KINDS
    max_person_identifiers: int | None = 50
    max_person_anonymous_ids: int | None = 20

    def __post_init__(self) -> None:
        unknown = set(self.merge_kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown identifier kinds {sorted(unknown)}; use {sorted(KINDS)}")
        object.__setattr__(self, "merge_kinds", frozenset(self.merge_kinds))
        for name in (MAX_IDENTIFIERS, MAX_ANONYMOUS_IDS):
            cap = getattr(self, name)
            if cap is not None and cap < 1:
                raise ValueError(f"{name} must be at least 1 or None, not {cap}")

    def over_cap(self, identifiers: int, anonymous_ids: int) -> tuple[str, int, int] | None:
        """``(reason, size, cap)`` of the first cap a person of this size exceeds, else None."""
        for reason, size, cap in (
            (MAX_IDENTIFIERS, identifiers, self.max_person_identifiers),
            (MAX_ANONYMOUS_IDS, anonymous_ids, self.max_person_anonymous_ids),
        ):
            if cap is not None and size > cap:
                return reason, size, cap
        return None


@dataclass(frozen=True)
class Merge:
    """Person ``absorbed`` became part of person ``kept`` (the older one) at event ``event_id``.

    ``via`` is the event's identifier that belonged to the other person: the link that joined
    them. Only persons that existed before the event are recorded; an identifier first seen in
    the event simply joins its person.
    """

    kept: str
    absorbed: str
    via: Identifier
    event_id: str
    at: datetime


@dataclass(frozen=True)
class Refusal:
    """Event ``event_id`` would have joined ``person_id`` and ``other_person_id`` via ``via``.

    ``reason`` is ``kind_not_merging`` (the policy turns that kind off) or the exceeded cap's
    name, with the size the merged person would have had and the cap (both 0 for a kind).
    """

    person_id: str
    other_person_id: str
    via: Identifier
    reason: str
    size: int
    cap: int
    event_id: str
    at: datetime


@dataclass(frozen=True)
class Observation:
    """What ``IdentityGraph.observe`` did with one event."""

    person_id: str
    merges: tuple[Merge, ...] = ()
    refused: tuple[Refusal, ...] = ()
