"""At ingest: which destinations each stored conversion is to be delivered to.

For every conversion the tracking plan says an event counts as (``conversions_for``, with the
top-level value, currency and order id lifted into the properties as reports see them), each
enabled destination the conversion maps to gets a job — ``platforms.meta/ga4/tiktok.event``,
``platforms.google.conversion_action_id`` (or ``destination``) for Google; the webhook takes
every conversion under its plan name — unless consent does not allow that destination. The
jobs ride on ``Event.deliveries``; the store writes them to its outbox in the transaction that
stores the event, and only if it does (a duplicate event_id gets none).

An event the plan's ``adjustments[]`` name (a refund, cancellation or restatement of an earlier
conversion, matched by ``order_id``) gets a job for each enabled destination that conversion
maps to and that takes that type of adjustment (``Destination.adjustment_types``); its platform
event is marked as an adjustment (forward.adjustment). Destinations that cannot retract get none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from convtrack.events import Event
from convtrack.forward.adjustment import encode
from convtrack.forward.destination import Destination
from convtrack.plan import CompiledPlan
from convtrack.plan.model import AdjustmentDef, ConversionDef

LIFTED = ("value", "currency", "order_id")
#: a destination's name in the consent decision, where it differs
CONSENT_NAMES: Mapping[str, str] = {"google_dm": "google"}


def platform_event(conversion: ConversionDef, destination: str) -> str | None:
    """What ``destination`` calls this conversion, or None when it is not mapped there."""
    p = conversion.platforms
    if destination == "webhook":
        return conversion.name
    if destination == "google_dm" and p.google is not None:
        return p.google.conversion_action_id or p.google.destination
    if destination == "linkedin":
        return p.linkedin.conversion_rule_id if p.linkedin is not None else None
    mapping = {
        "meta": p.meta,
        "ga4": p.ga4,
        "tiktok": p.tiktok,
        "snapchat": p.snapchat,
        "pinterest": p.pinterest,
        "reddit": p.reddit,
    }.get(destination)
    return mapping.event if mapping is not None else None


def consent_allows(event: Event, name: str, destination: Destination) -> bool:
    """The privacy stage's decision when the event carries one; else only when none of the
    destination's consent signals (``ad_user_data`` for ads, ``analytics_storage`` for GA4)
    is denied."""
    decision = event.consent_decision
    if decision is not None and "destinations" in decision:
        return CONSENT_NAMES.get(name, name) in (decision["destinations"] or ())
    consent = event.consent
    if consent is None:
        return True
    return all(getattr(consent, s, None) != "denied" for s in destination.consent_required)


def properties_of(event: Event) -> dict[str, Any]:
    """The properties as the plan's conversion rules see them (reports lift the same)."""
    props = dict(event.properties)
    props.update({k: getattr(event, k) for k in LIFTED if getattr(event, k) is not None})
    return props


class Router:
    def __init__(self, enabled: Mapping[str, Destination]) -> None:
        self.enabled = dict(enabled)

    def route(self, events: Iterable[Event], plan: CompiledPlan) -> None:
        """Set ``deliveries`` on each event that converts for an enabled destination."""
        if not self.enabled:
            return
        for event in events:
            props = properties_of(event)
            conversions = plan.conversions_for(event.event_name, props)
            adjusts = props.get("order_id") is not None  # matched to the original by order id
            adjustments = plan.adjustments_for(event.event_name, props) if adjusts else []
            if conversions or adjustments:
                event.deliveries = self.jobs(event, conversions, adjustments)

    def jobs(
        self,
        event: Event,
        conversions: list[ConversionDef],
        adjustments: Sequence[tuple[AdjustmentDef, ConversionDef]] = (),
    ) -> list[tuple[str, str, str]]:
        """One job per destination: the first conversion (then adjustment) mapped to it (a job
        is unique per event and destination, so one event goes nowhere twice)."""
        found: dict[str, tuple[str, str, str]] = {}
        for conversion in conversions:
            for name, destination in self.enabled.items():
                if name in found:
                    continue
                target = platform_event(conversion, name)
                if target and consent_allows(event, name, destination):
                    found[name] = (name, conversion.name, target)
        for adjustment, adjusted in adjustments:
            self._adjustment_jobs(event, adjustment, adjusted, found)
        return list(found.values())

    def _adjustment_jobs(
        self,
        event: Event,
        adjustment: AdjustmentDef,
        conversion: ConversionDef,
        found: dict[str, tuple[str, str, str]],
    ) -> None:
        """Jobs for the destinations that would get ``conversion`` and take this adjustment."""
        for name, destination in self.enabled.items():
            if name in found or adjustment.type not in destination.adjustment_types:
                continue
            target = platform_event(conversion, name)
            if target and consent_allows(event, name, destination):
                found[name] = (name, conversion.name, encode(adjustment.type, target))
