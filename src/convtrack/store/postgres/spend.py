# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""Ad spend in PostgreSQL: one import is one upsert on the spend key (docs/spend.md).

``xmax = 0`` in ``RETURNING`` tells a freshly inserted row from a replaced one, so the counts
stay right when two imports of overlapping files run at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from convtrack.errors import ConvtrackError
from convtrack.store.base import SpendRow

_KEY = "day, platform, channel, campaign, currency"
_UPSERT = (
    "INSERT INTO spend (day, platform, channel, campaign, spend, currency, impressions, clicks,"
    " imported_at, source)"
    " SELECT d, p, ch, ca, s, cu, i, cl, now(), %s FROM unnest(%s::date[], %s::text[],"
    " %s::text[], %s::text[], %s::numeric[], %s::text[], %s::bigint[], %s::bigint[])"
    " AS t(d, p, ch, ca, s, cu, i, cl)"
    f" ON CONFLICT ({_KEY}) DO UPDATE SET spend = excluded.spend,"
    " impressions = excluded.impressions, clicks = excluded.clicks,"
    " imported_at = excluded.imported_at, source = excluded.source"
    " RETURNING (xmax = 0) AS inserted"
)
_FIELDS = ("day", "platform", "channel", "campaign", "spend", "currency", "impressions", "clicks")


def upsert(con: psycopg.Connection[Any], rows: Sequence[SpendRow], source: str) -> dict[str, int]:
    """Insert or replace ``rows`` in the caller's transaction (keys checked unique already)."""
    columns = [[getattr(r, name) for r in rows] for name in _FIELDS]
    try:
        flags = [r[0] for r in con.execute(_UPSERT, [source, *columns]).fetchall()]
    except (psycopg.errors.CheckViolation, psycopg.errors.DataError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConvtrackError("invalid_spend", f"A spend row breaks a rule: {reason}", 422) from None
    inserted = sum(flags)
    return {"inserted": inserted, "replaced": len(flags) - inserted}
