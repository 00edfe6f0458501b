"""``POST /v1/admin/spend``: store ad spend rows (``convtrack spend import`` sends them).

The rows are checked again here, as strictly as a file (see docs/spend.md), and stored in one
transaction: all of a request or nothing. A body past ``BODY_LIMIT`` is refused with 413; the
CLI cuts big files into requests well below it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec

from convtrack.attribution.spend import rows_from_json
from convtrack.store.base import EventStore

BODY_LIMIT = 4 * 1_048_576


class SpendIn(msgspec.Struct, forbid_unknown_fields=True):
    rows: list[dict[str, Any]]
    source: Annotated[str, msgspec.Meta(max_length=1000)] = ""  # the imported file's name


async def import_spend(store: EventStore, body: SpendIn) -> dict[str, Any]:
    return await asyncio.to_thread(_import, store, body)  # checking rows takes a while too


def _import(store: EventStore, body: SpendIn) -> dict[str, Any]:
    rows = rows_from_json(body.rows)
    return {"rows": len(rows), **store.upsert_spend(rows, body.source)}
