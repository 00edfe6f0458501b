"""The identity stage's vocabulary: identifier kinds, the stitching policy, and its records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convtrack.config import Settings

Identifier = tuple[str, str]
"""``(kind, value)``; values of the ``*_sha256`` kinds arrive already hashed."""

ANONYMOUS_ID = "anonymous_id"
KINDS: frozenset[str] = frozenset(
    {
        ANONYMOUS_ID, "user_id", "email_sha256", "phone_sha256", "external_id_sha256",
        "advertising_id_sha256",
    }
)  # fmt: skip

# Reasons a link is refused (``Refusal.reason``).
KIND_NOT_MERGING = "kind_not_merging"
MAX_IDENTIFIERS = "max_person_identifiers"
MAX_ANONYMOUS_IDS = "max_person_anonymous_ids"


def max_kind_reason(kind: str) -> str:
    """The refusal reason of ``StitchPolicy.max_per_kind[kind]``: ``max_person_user_ids``."""
    return f"max_person_{kind}s"


@dataclass(frozen=True)
class StitchPolicy:
    """Which kinds may join people, and how large one person may grow (``None`` = no cap).

    The caps stop one shared computer or one bad id (a constant ``"undefined"`` user id, a
    test email) from merging thousands of people: a merge whose result would exceed a cap is
    refused, and the identifiers stay in their separate persons. ``max_per_kind`` caps one
    kind (by default one ``user_id`` per person: a login on a shared computer must not merge
    two accounts); its refusals say ``max_person_<kind>s``.
    """

    merge_kinds: frozenset[str] = KINDS
    max_person_identifiers: int | None = 50
    max_person_anonymous_ids: int | None = 20
    max_per_kind: Mapping[str, int] = field(default_factory=lambda: {"user_id": 1})

    def __post_init__(self) -> None:
        unknown = (set(self.merge_kinds) | set(self.max_per_kind)) - KINDS
        if unknown:
            raise ValueError(f"unknown identifier kinds {sorted(unknown)}; use {sorted(KINDS)}")
        object.__setattr__(self, "merge_kinds", frozenset(self.merge_kinds))
        object.__setattr__(self, "max_per_kind", dict(self.max_per_kind))
        caps = [(n, getattr(self, n)) for n in (MAX_IDENTIFIERS, MAX_ANONYMOUS_IDS)]
        for name, cap in [*caps, *self.max_per_kind.items()]:
            if cap is not None and cap < 1:
                raise ValueError(f"{name} must be at least 1 or None, not {cap}")
        kind_caps = [(MAX_ANONYMOUS_IDS, ANONYMOUS_ID, self.max_person_anonymous_ids)]
        kind_caps += [(max_kind_reason(k), k, cap) for k, cap in self.max_per_kind.items()]
        # what over_cap checks per kind, worked out once (it runs for every link)
        object.__setattr__(self, "_kind_caps", [c for c in kind_caps if c[2] is not None])

    @classmethod
    def from_settings(cls, settings: Settings) -> StitchPolicy:
        """The policy the ``identity_*`` settings describe (a cap of 0 means no cap)."""
        kinds = {k.strip() for k in settings.identity_merge_kinds.split(",") if k.strip()}
        user_ids = settings.identity_max_user_ids
        return cls(
            merge_kinds=frozenset(kinds),
            max_person_identifiers=settings.identity_max_identifiers or None,
            max_person_anonymous_ids=settings.identity_max_anonymous_ids or None,
            max_per_kind={"user_id": user_ids} if user_ids else {},
        )

    def over_cap(
        self, identifiers: int, kinds: Mapping[str, int], more: Mapping[str, int] | None = None
    ) -> tuple[str, int, int] | None:
        """``(reason, size, cap)`` of the first cap a person of this size exceeds, else None;
        ``kinds`` (plus ``more``: the other person of a merge) count identifiers by kind."""
        cap = self.max_person_identifiers
        if cap is not None and identifiers > cap:
            return MAX_IDENTIFIERS, identifiers, cap
        more = more or {}
        for reason, kind, cap in self._kind_caps:  # type: ignore[attr-defined]
            size = kinds.get(kind, 0) + more.get(kind, 0)
            if size > cap:
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
