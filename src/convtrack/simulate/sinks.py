"""Where simulated deliveries go: a JSON-lines file, or straight into a store.

Every sink takes the deliveries in arrival order (blocked browser hits already removed) and a
``Progress``; ``send`` returns a ``Report``. The HTTP sink lives in ``simulate.http``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec

from convtrack.collect.parse import Origin, to_event
from convtrack.config import Settings
from convtrack.enrich.pii import hash_identifiers
from convtrack.errors import ConvtrackError
from convtrack.events import Event
from convtrack.identity.records import StitchPolicy
from convtrack.simulate.hits import Delivery
from convtrack.simulate.progress import Progress
from convtrack.store import open_store


@dataclass
class Report:
    target: str
    sent: int = 0  # deliveries handed over
    accepted: int = 0  # deliveries the target took (HTTP: "accepted"; store: all valid ones)
    rejected: int = 0
    new: int | None = None  # events that were not stored before (store sink only)
    retries: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first few rejections


class Sink(Protocol):
    def send(self, deliveries: Sequence[Delivery], progress: Progress) -> Report: ...


class JsonLine(msgspec.Struct):
    """One line of ``--out``: which copy it is, and the event exactly as it would be sent."""

    source: str
    event: Any


def chunks(items: Sequence[Delivery], size: int) -> Iterator[Sequence[Delivery]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class JsonlSink:
    """``--out FILE`` (``-`` for stdout): one ``{"source", "event"}`` object per line."""

    path: str

    def send(self, deliveries: Sequence[Delivery], progress: Progress) -> Report:
        encoder = msgspec.json.Encoder()
        if self.path == "-":
            self._write(sys.stdout.buffer, deliveries, encoder, progress)
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb") as out:
                self._write(out, deliveries, encoder, progress)
        return Report(self.path, sent=len(deliveries), accepted=len(deliveries))

    @staticmethod
    def _write(
        out: Any, items: Sequence[Delivery], encoder: msgspec.json.Encoder, progress: Progress
    ) -> None:
        for chunk in chunks(items, 1000):
            lines = [encoder.encode(JsonLine(d.source, d.event)) for d in chunk]
            out.write(b"\n".join(lines) + b"\n")
            progress.advance(len(chunk))
        out.flush()


def canonical(delivery: Delivery, settings: Settings) -> Event:
    """The stored form of one delivery, through the same checks as ``POST /v1/events``.

    The copy is received at its simulated arrival time and from its simulated address, so a
    backfill looks like live traffic.
    """
    origin = Origin(
        source=delivery.source,
        key_id=None,
        trusted=delivery.source == "server",
        ip=delivery.ip,
        user_agent=None,
        received_at=delivery.arrival,
    )
    result = to_event(
        None,
        delivery.event,
        origin,
        None,
        default_currency=settings.default_currency,
        max_future=timedelta(seconds=settings.max_future_seconds),
    )
    if not isinstance(result, Event):
        raise ConvtrackError("simulate_bug", f"the simulator built an invalid event: {result}", 500)
    return hash_identifiers(result, keep_raw=settings.store_raw_pii)


@dataclass
class StoreSink:
    """Append canonical events to the store at ``settings.store_url`` (migrated first)."""

    settings: Settings
    chunk_size: int = 5000

    def send(self, deliveries: Sequence[Delivery], progress: Progress) -> Report:
        report = Report(self.settings.store_url, new=0)
        with open_store(self.settings.store_url) as store:
            store.migrate()
            policy = StitchPolicy.from_settings(self.settings)
            store.configure_identity(policy, self.settings.identity_stitching)
            for chunk in chunks(deliveries, self.chunk_size):
                events = [canonical(d, self.settings) for d in chunk]
                report.new = (report.new or 0) + store.append(events)
                report.sent += len(chunk)
                report.accepted += len(chunk)
                progress.advance(len(chunk))
        return report
