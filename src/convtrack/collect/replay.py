"""Replay: rebuild quarantined events as they arrived, hold them to the current plan, store them.

A quarantine row keeps the payload (identifiers hashed unless ``store_raw_pii``), the source,
the key, the request's IP and user agent, the batch ``sent_at`` and the original
``received_at``. ``rebuild`` turns a row back into the canonical event exactly as ingest would
have (``to_event`` with the original ``Origin``, then the plan, then hashing), so the event's
times and context are those of its first arrival. Replay belongs to the collect stage: it is
ingest run again on what ingest kept.

An event without an ``event_id`` gets one derived from its quarantine row, and the store marks
the row replayed in the same transaction that stores the event, so a replay run twice (or
two at once) stores nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec

from convtrack.collect.parse import Origin, issue, to_event, validation_issue
from convtrack.collect.plan_check import apply_plan
from convtrack.config import Settings
from convtrack.enrich.pii import hash_identifiers
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Event, EventIn, Identifiers
from convtrack.forward.destination import get
from convtrack.forward.enabled import enabled_names
from convtrack.forward.routing import Router
from convtrack.plan import CompiledPlan
from convtrack.store.base import EventStore, QuarantineRow

# Sources whose payloads are EventIn-shaped: the events API (server, tag), the pixel, and the
# Segment and Snowplow APIs (their adapters keep an event as mapped to EventIn fields).
REPLAYABLE = frozenset({"server", "tag", "pixel", "segment", "snowplow"})
_LOOSE = frozenset({"pixel", "segment", "snowplow"})  # values converted leniently at ingest
# Namespace of the ids given to replayed events that were sent without one.
REPLAY_NAMESPACE = uuid.UUID("6c0a3f0e-5b1d-4f7e-9a53-2f1c2e7d8b90")
_IDENTIFIERS = frozenset(f.name for f in msgspec.structs.fields(Identifiers))
_REMOVED = "[removed]"  # what enrich.pii.scrub_payload leaves for a value it cannot hash

Reasons = list[dict[str, Any]]


@dataclass(frozen=True)
class ReplayOptions:
    """The ingest settings a rebuild needs."""

    default_currency: str = "USD"
    max_future: timedelta = timedelta(days=1)
    keep_raw: bool = False
    # The consent decision, as at ingest (the request's region is not kept: default_region).
    gate: ConsentGate | None = None
    # Forwarding jobs of a replayed conversion, as at ingest (forward.routing).
    router: Router | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ReplayOptions:
        return cls(
            default_currency=settings.default_currency,
            max_future=timedelta(seconds=settings.max_future_seconds),
            keep_raw=settings.store_raw_pii,
            gate=ConsentGate(settings),
            router=Router({name: get(name) for name in enabled_names(settings)}),
        )


@dataclass(frozen=True)
class Outcome:
    """What replay did (or, in a dry run, would do) with one quarantine row.

    ``status``: ``replayed`` (stored now), ``already_stored`` (its event_id was stored before:
    marked replayed, nothing stored), ``would_replay`` (dry run), ``still_invalid`` (kept in
    quarantine; ``reasons`` are the current ones), ``not_quarantined`` (replayed before) or
    ``not_found``."""

    reject_id: str
    status: str
    event_id: str | None = None
    event_name: str | None = None
    reasons: Reasons = field(default_factory=list)


def replay_event_id(reject_id: str) -> str:
    """The event id of a replayed event sent without one: the same for every replay."""
    return str(uuid.uuid5(REPLAY_NAMESPACE, reject_id))


def origin_of(row: QuarantineRow) -> Origin:
    """The request as it arrived (a secret key, source ``server``, was trusted)."""
    return Origin(
        source=row["source"],
        key_id=row.get("key_id"),
        trusted=row["source"] == "server",
        ip=row.get("ip"),
        user_agent=row.get("user_agent"),
        received_at=row["received_at"],
    )


def unscrub(payload: Any) -> tuple[Any, bool, Reasons]:
    """Undo ``scrub_payload`` as far as it can be: ``email_sha256`` → ``email`` (a hash is
    kept as is by hashing). Returns (payload, whether identifiers were hashed, problems)."""
    if not isinstance(payload, dict) or payload.get("identifiers") is None:
        return payload, False, []
    ids = payload["identifiers"]
    lost = [issue(None, "/identifiers", "was not an object; quarantine kept no copy of it")]
    if ids == _REMOVED:
        return payload, True, lost
    if not isinstance(ids, dict):
        return payload, False, []
    out: dict[str, Any] = {}
    hashed = False
    for key, value in ids.items():
        base = key.removesuffix("_sha256")
        if base != key and base in _IDENTIFIERS:
            out[base], hashed = value, True
        elif value == _REMOVED:
            reason = "was not a string; quarantine kept no copy of it"
            return payload, True, [issue(None, f"/identifiers/{key}", reason)]
        else:
            out[key] = value
    return {**payload, "identifiers": out}, hashed, []


def rebuild(row: QuarantineRow, plan: CompiledPlan, options: ReplayOptions) -> Event | Reasons:
    """The canonical event a quarantine row holds, if it passes now; else the current reasons."""
    source = row["source"]
    if source not in REPLAYABLE:
        return [issue(None, "", f"events from source {source!r} cannot be replayed")]
    try:
        payload = msgspec.json.decode(row["payload"])
    except msgspec.DecodeError:
        return [issue(None, "", "the quarantined payload is not JSON")]
    payload, hashed, lost = unscrub(payload)
    if lost:
        return lost
    try:  # pixel values are all strings: convert them the way the pixel does
        event_in = msgspec.convert(payload, EventIn, strict=source not in _LOOSE)
    except msgspec.ValidationError as exc:
        return [validation_issue(None, exc)]
    if event_in.event_id is None:
        event_in = msgspec.structs.replace(event_in, event_id=replay_event_id(row["reject_id"]))
    result = to_event(
        None,
        event_in,
        origin_of(row),
        row.get("batch_sent_at"),
        default_currency=options.default_currency,
        max_future=options.max_future,
    )
    if not isinstance(result, Event):
        return [result]
    verdict = apply_plan(plan, result, None)
    if verdict.issues:
        return verdict.issues
    # A hash standing in for a raw identifier is no raw value: never keep it as one.
    keep_raw = options.keep_raw and not hashed
    if options.gate is None:
        return hash_identifiers(result, keep_raw=keep_raw)
    stored = options.gate.apply(result, options.gate.default_region, keep_raw=keep_raw)
    if stored is None:
        return [issue(None, "/consent", "consent allows storing nothing of this event")]
    if options.router is not None:  # jobs are written only if the replay stores the event
        options.router.route([stored], plan)
    return stored


def replay_rows(
    store: EventStore,
    rows: list[QuarantineRow],
    plan: CompiledPlan,
    options: ReplayOptions,
    *,
    dry_run: bool = False,
) -> list[Outcome]:
    """Replay these rows: the ones that pass now are stored and marked in one transaction."""
    built = {row["reject_id"]: rebuild(row, plan, options) for row in rows}
    passing = [(rid, ev) for rid, ev in built.items() if isinstance(ev, Event)]
    stored = {} if dry_run or not passing else store.replay_quarantined(passing)
    return [_outcome(row, built[row["reject_id"]], stored, dry_run) for row in rows]


_STORED = {"new": "replayed", "duplicate": "already_stored", "skipped": "not_quarantined"}


def _outcome(
    row: QuarantineRow, built: Event | Reasons, stored: dict[str, str], dry_run: bool
) -> Outcome:
    rid = row["reject_id"]
    if not isinstance(built, Event):
        return Outcome(rid, "still_invalid", event_name=row.get("event_name"), reasons=built)
    status = "would_replay" if dry_run else _STORED[stored[rid]]
    return Outcome(rid, status, built.event_id, built.event_name)
