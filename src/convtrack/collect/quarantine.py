"""The quarantine desk: list, show and replay quarantined events, as JSON-ready dicts.

The admin API (``/v1/admin/quarantine``) and the CLI working straight on the store both call
this, so ``convtrack quarantine …`` answers the same either way. The plan comes from a
provider, called once per replay: the server passes its active plan (reloads included), the
CLI the plan file from its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from convtrack.collect.replay import Outcome, ReplayOptions, replay_rows
from convtrack.errors import ConvtrackError
from convtrack.jsonable import plain_row
from convtrack.plan import CompiledPlan
from convtrack.store.base import EventStore, QuarantineFilter, QuarantineRow

PAGE = 500  # rows replayed per store transaction
TOP_REASONS = 10
MAX_LIMIT = 10_000
STATUSES = ("quarantined", "replayed")


@dataclass
class QuarantineDesk:
    store: EventStore
    plan: Callable[[], CompiledPlan]
    options: ReplayOptions

    def find(self, filters: QuarantineFilter, limit: int) -> dict[str, Any]:
        """Matching rows (newest first, payload left out) and the most frequent reasons."""
        rows = self.store.list_quarantined(filters, limit)
        reasons = self.store.quarantine_reasons(filters, TOP_REASONS)
        return {
            "rows": [_summary(r) for r in rows],
            "top_reasons": [{"path": p, "reason": r, "count": n} for p, r, n in reasons],
        }

    def show(self, reject_id: str) -> dict[str, Any]:
        row = self.store.get_quarantined(reject_id)
        if row is None:
            raise not_found(reject_id)
        return plain_row({**row, "payload": _decoded(row["payload"])})

    def replay(
        self, ids: Sequence[str], *, replay_all: bool = False, dry_run: bool = False
    ) -> dict[str, Any]:
        """Replay the rows ``ids`` (or every quarantined row) against the current plan."""
        if not ids and not replay_all:
            raise ConvtrackError("nothing_to_replay", "Name quarantine ids, or replay all.")
        plan = self.plan()
        outcomes: list[Outcome] = []
        for rows, settled in self._pages(ids, replay_all):
            outcomes += settled
            outcomes += replay_rows(self.store, rows, plan, self.options, dry_run=dry_run)
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return {
            "plan_version": plan.version,
            "dry_run": dry_run,
            "counts": counts,
            "outcomes": [asdict(o) for o in outcomes],
        }

    def _pages(
        self, ids: Sequence[str], replay_all: bool
    ) -> Iterator[tuple[list[QuarantineRow], list[Outcome]]]:
        """Pages of rows to replay, with the outcomes of named rows that cannot be."""
        if replay_all:
            yield from ((rows, []) for rows in self._all_quarantined())
            return
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), PAGE):
            rows, settled = [], []
            for rid in unique[start : start + PAGE]:
                row = self.store.get_quarantined(rid)
                if row is None:
                    settled.append(Outcome(rid, "not_found"))
                elif row["status"] != "quarantined":
                    settled.append(_already(row))
                else:
                    rows.append(row)
            yield rows, settled

    def _all_quarantined(self) -> Iterator[list[QuarantineRow]]:
        """Every row still quarantined, page by page (newest first: a keyset cursor, so rows
        that stay quarantined are not seen twice)."""
        cursor = None
        while True:
            filters = QuarantineFilter(status="quarantined", before=cursor)
            rows = self.store.list_quarantined(filters, PAGE)
            if not rows:
                return
            yield rows
            cursor = (rows[-1]["received_at"], rows[-1]["reject_id"])


def _already(row: QuarantineRow) -> Outcome:
    return Outcome(
        row["reject_id"], "not_quarantined", row["replayed_event_id"], row.get("event_name")
    )


def not_found(reject_id: str) -> ConvtrackError:
    return ConvtrackError(
        "not_found", f"No quarantined event {reject_id!r}; see `convtrack quarantine list`.", 404
    )


def _summary(row: QuarantineRow) -> dict[str, Any]:
    return plain_row({k: v for k, v in row.items() if k != "payload"})


def _decoded(payload: str) -> Any:
    try:
        return msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return payload


def filters_from_query(query: dict[str, str]) -> tuple[QuarantineFilter, int]:
    """Query parameters → (filters, limit), each checked with a message that says what to fix."""
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise ConvtrackError("invalid_status", "status must be quarantined or replayed.")
    since = None
    if query.get("since"):
        try:
            since = datetime.fromisoformat(query["since"])
        except ValueError:
            raise ConvtrackError("invalid_since", "since must be an ISO 8601 time.") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    try:
        limit = int(query.get("limit") or 100)
    except ValueError:
        limit = -1
    if not 0 < limit <= MAX_LIMIT:
        raise ConvtrackError("invalid_limit", f"limit must be an integer 1..{MAX_LIMIT}.")
    filters = QuarantineFilter(
        status=status,
        source=query.get("source") or None,
        since=since,
        reason=query.get("reason") or None,
    )
    return filters, limit
