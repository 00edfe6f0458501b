"""Erase a person: every row about them in one transaction, and tombstones for later events."""

from __future__ import annotations

import logging
from typing import Any

from convtrack.privacy.person import resolve
from convtrack.store.base import EventStore

log = logging.getLogger("convtrack.privacy")


def erase(store: EventStore, option: str, raw: str, *, dry_run: bool = False) -> dict[str, Any]:
    """Erase (or, with ``dry_run``, count) what is held about the person; rows per table."""
    person = resolve(store, option, raw)
    counts = store.erase_person(person, dry_run)
    if not dry_run:
        log.info("erased a person (%s): %s", person.requested, counts)
    return {
        "dry_run": dry_run,
        "requested": person.requested,
        "identifiers": len(person.identifiers),
        "persons": len(person.person_ids),
        "deleted": counts,
        "total": sum(counts.values()),
    }
