"""At ingest: which destinations each stored conversion is to be delivered to.

For every conversion the tracking plan says an event counts as (``conversions_for``, with the
top-level value, currency and order id lifted into the properties as reports see them), each
enabled destination the conversion maps to gets a job — ``platforms.meta/ga4/tiktok.event``,
``platforms.google.conversion_action_id`` (or ``destination``) for Google; the webhook takes
every conversion under its plan name — unless consent does not allow that destination. The
jobs ride on ``Event.deliveries``; the store writes them to its outbox in the transaction that
stores the event, and only if it does (a duplicate event_id gets none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from convtrack.events import Event
from convtrack.forward.destination import Destination
from convtrack.plan import CompiledPlan
from convtrack.plan.model import ConversionDef

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
    mapping = {"meta": p.meta, "ga4": p.ga4, "tiktok": p.tiktok}.get(destination)
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
            conversions = plan.conversions_for(event.event_name, properties_of(event))
            if conversions:
                event.deliveries = self.jobs(event, conversions)

    def jobs(self, event: Event, conversions: list[ConversionDef]) -> list[tuple[str, str, str]]:
        """One job per destination: the first conversion mapped to it (a job is unique per
        event and destination, so a second conversion of one event goes nowhere twice)."""
        found: dict[str, tuple[str, str, str]] = {}
        for conversion in conversions:
            for name, destination in self.enabled.items():
                if name in found:
                    continue
                target = platform_event(conversion, name)
                if target and consent_allows(event, name, destination):
                    found[name] = (name, conversion.name, target)
        return list(found.values())
