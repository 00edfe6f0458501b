"""Who a journey belongs to: the SQL that gives every event its person key.

Until identity stitching runs, a person is a browser (the anonymous id), or a user id when
an event has no anonymous id. Stitching plugs in here: ``StitchedPeople`` joins the
``identity`` stage's table that maps an anonymous id to its person, so cross-device
journeys become one journey without any other change to the attribution SQL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class People:
    """Person = anonymous id, else ``user:`` + user id (the two never collide)."""

    def join(self, alias: str) -> str:
        """Extra ``JOIN`` clauses for events aliased ``alias`` (none here)."""
        return ""

    def key(self, alias: str) -> str:
        """The person key of an event row aliased ``alias``."""
        return f"COALESCE({alias}.anonymous_id, 'user:' || {alias}.user_id)"


@dataclass(frozen=True)
class StitchedPeople(People):
    """Person from a table ``(anonymous_id, person_id)`` (the identity stage's output)."""

    table: str = "identity_people"

    def join(self, alias: str) -> str:
        return (
            f" LEFT JOIN {self.table} AS {alias}_p ON {alias}_p.anonymous_id = {alias}.anonymous_id"
        )

    def key(self, alias: str) -> str:
        return f"COALESCE({alias}_p.person_id, {super().key(alias)})"
