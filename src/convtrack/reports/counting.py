"""Which stored events count as which conversion, under the plan's counting rules.

Pure: rows in, ``Hit``s out, so every rule can be checked on hand-made data.

- ``every``: each stored event counts (the store is unique by ``event_id``, so a browser and
  a server copy sent under one ``event_id`` are already one event).
- ``once_per_order``: the first event per (conversion, ``order_id``) counts, whatever its
  ``event_id`` — browser, server and retried copies of one order count once. An event without
  an ``order_id`` counts on its own (there is nothing to deduplicate it by).
- ``once_per_person``: the first event per (conversion, person) counts; the person is
  ``user_id`` if present, else ``anonymous_id`` (identity stitching will replace this key).
  An event with neither counts on its own.

"First" means earliest ``occurred_at`` (then ``event_id``) over all history before the end
of the report, so a conversion counts on the day it first happened and a person or order
seen before ``--from`` does not count again inside the range.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from convtrack.plan import CompiledPlan
from convtrack.plan.filters import MISSING, get
from convtrack.plan.model import ConversionDef


@dataclass(frozen=True)
class Candidate:
    """A stored event that may count as a conversion. ``properties`` include the lifted
    top-level ``value``, ``currency`` and ``order_id`` (as the plan sees them)."""

    event_id: str
    event_name: str
    occurred_at: datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """Report on ``start <= occurred_at < end`` (UTC days); ``None`` means unbounded."""

    start: date | None = None
    end: date | None = None

    def holds(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Hit:
    """One counted conversion: its day (UTC), currency and value (``None``: no value)."""

    conversion: ConversionDef
    day: date
    currency: str | None
    value: Decimal | None


def utc_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def dedup_key(conv: ConversionDef, event: Candidate) -> tuple[str, ...]:
    """Events with the same key count once; ``every`` gives each event its own key."""
    if conv.counting == "once_per_order":
        order = get(event.properties, "order_id")
        if order is not MISSING and order not in (None, ""):
            return (conv.name, "order", str(order))
    elif conv.counting == "once_per_person":
        person = event.user_id or event.anonymous_id
        if person:
            return (conv.name, "person", person)
    return (conv.name, "event", event.event_id)


def conversion_value(conv: ConversionDef, properties: dict[str, Any]) -> Decimal | None:
    """The value rule: a fixed amount, or a numeric property; otherwise no value."""
    if conv.value is None:
        return None
    if conv.value.fixed is not None:
        return Decimal(str(conv.value.fixed))
    raw = get(properties, conv.value.property or "")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Decimal(str(raw))
    return None


def conversion_currency(
    conv: ConversionDef, properties: dict[str, Any], default_currency: str
) -> str | None:
    """The conversion's currency, else the event's, else the default (only with a value)."""
    if conv.value is None:
        return None
    if conv.currency:
        return conv.currency
    event_currency = get(properties, "currency")
    return event_currency if isinstance(event_currency, str) else default_currency


def count_hits(
    events: Iterable[Candidate], plan: CompiledPlan, window: Window, default_currency: str
) -> Iterator[Hit]:
    """The counted conversions inside ``window``, honouring each conversion's counting rule.

    ``events`` may start before the window (history for the once-rules); any order."""
    currency = plan.plan.default_currency or default_currency
    seen: set[tuple[str, ...]] = set()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        day = utc_day(event.occurred_at)
        for conv in plan.conversions_for(event.event_name, event.properties):
            key = dedup_key(conv, event)
            if key in seen:
                continue
            seen.add(key)
            if window.holds(day):
                props = event.properties
                value = conversion_value(conv, props)
                yield Hit(conv, day, conversion_currency(conv, props, currency), value)
