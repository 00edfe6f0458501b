"""The ingest pipeline every request-answering protocol adapter ends in.

An adapter (the events API, Segment, ECAPI) turns its wire format into ``EventIn`` items
(or ``Invalid`` ones it could not map) and an ``Origin``; ``Pipeline.store`` does the rest,
the same way for all of them: canonical event and its checks (collect.parse.to_event), the
tracking plan (aliases such as "Order Completed" become ``purchase``), the consent decision
(stripping and hashing), the forwarding jobs (forward.routing) and one group commit with the
quarantined events, deduplicated on ``event_id`` by the store. It returns once committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from convtrack.collect import install_referrer
from convtrack.collect.parse import Invalid, Origin, _as_datetime, to_event
from convtrack.collect.plan_check import apply_plan
from convtrack.config import Settings
from convtrack.enrich.pii import scrub_payload
from convtrack.enrich.privacy import ConsentGate
from convtrack.events import Event, EventIn, Rejected
from convtrack.forward.routing import Router
from convtrack.ids import new_event_id
from convtrack.plan.active import ActivePlan
from convtrack.store.writer import Writer

_encode = msgspec.json.Encoder().encode


@dataclass
class Outcome:
    """What became of a request's items (``errors`` and ``warnings`` carry ``index``)."""

    valid: list[Event] = field(default_factory=list)  # passed every check
    kept: list[Event] = field(default_factory=list)  # of those, what consent lets us store
    rejected: list[Rejected] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        """Valid events the visitor's consent allows storing nothing of."""
        return len(self.valid) - len(self.kept)


@dataclass
class Pipeline:
    settings: Settings
    writer: Writer
    plan: ActivePlan
    gate: ConsentGate
    router: Router | None = None  # forwarding jobs of the conversions (forward.routing)

    async def store(
        self,
        items: list[EventIn | Invalid],
        origin: Origin,
        region: str | None,
        batch_sent_at: datetime | int | None = None,
        is_batch: bool = True,
    ) -> Outcome:
        """Check, decide consent, route and commit ``items``; quarantine the invalid ones."""
        out = self.check(items, origin, batch_sent_at, is_batch)
        out.kept = [e for e in out.valid if self.gate.apply(e, region) is not None]
        plan = self.plan.compiled
        for e in out.kept:  # the store tallies the copies of conversions (store/copies.py)
            e.conversion = e.type == "conversion" or plan.converts(e.event_name)
        if self.router is not None:  # after consent: the decision gates each destination
            self.router.route(out.kept, plan)
        await self.writer.write(out.kept, out.rejected)
        return out

    def check(
        self,
        items: list[EventIn | Invalid],
        origin: Origin,
        batch_sent_at: datetime | int | None,
        is_batch: bool,
    ) -> Outcome:
        plan = self.plan.compiled  # one plan for the whole request, even across a reload
        keep_raw = self.settings.store_raw_pii
        currency = self.settings.default_currency
        max_future = timedelta(seconds=self.settings.max_future_seconds)
        out = Outcome()
        for i, item in enumerate(items):
            index = i if is_batch else None
            version = None
            if isinstance(item, Invalid):
                problems, raw = [item.issue], item.raw
            else:
                result = to_event(
                    index,
                    item,
                    origin,
                    batch_sent_at,
                    default_currency=currency,
                    max_future=max_future,
                )
                if isinstance(result, Event):
                    install_referrer.apply(result)  # a Play referrer's campaign and click id
                    verdict = apply_plan(plan, result, index)
                    out.warnings += verdict.warnings
                    if not verdict.issues:
                        out.valid.append(result)
                        continue
                    problems, version = verdict.issues, plan.version
                else:
                    problems = [result]
                raw = msgspec.to_builtins(item)
            out.errors += problems
            out.rejected.append(
                quarantine_record(problems, raw, origin, keep_raw, version, batch_sent_at)
            )
        return out


def quarantine_record(
    reasons: list[dict[str, Any]],
    raw: Any,
    origin: Origin,
    keep_raw: bool,
    plan_version: str | None = None,
    batch_sent_at: datetime | int | None = None,
) -> Rejected:
    """The quarantine row: the payload (identifiers hashed) and what replay needs again."""
    payload = raw if keep_raw else scrub_payload(raw)
    name = raw.get("event_name") if isinstance(raw, dict) else None
    return Rejected(
        reject_id=new_event_id(),
        received_at=origin.received_at,
        source=origin.source,
        payload=_encode(payload).decode(),
        reasons=reasons,
        key_id=origin.key_id,
        plan_version=plan_version,
        event_name=name[:128] if isinstance(name, str) else None,
        ip=origin.ip,
        user_agent=origin.user_agent,
        batch_sent_at=_as_datetime(batch_sent_at) if batch_sent_at is not None else None,
    )
