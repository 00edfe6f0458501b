"""How a canonical ``Event`` is seen by the plan: its properties and identifiers.

The canonical event keeps ``value``, ``currency`` and ``order_id`` outside ``properties``;
plan schemas describe them as properties (as Segment and GA4 send them), so they are lifted
in here, and an issue about a lifted field points at the top-level field (``/value``).
"""

from __future__ import annotations

from typing import Any

from convtrack.events import Event
from convtrack.plan.compiled import CheckResult, CompiledPlan
from convtrack.plan.model import ConversionDef

LIFTED: tuple[str, ...] = ("value", "currency", "order_id")


def plan_properties(event: Event) -> tuple[dict[str, Any], frozenset[str]]:
    """The properties a plan checks, and which of them came from the event's top level."""
    lifted = {k: v for k in LIFTED if (v := getattr(event, k)) is not None}
    if not lifted:
        return event.properties, frozenset()
    return {**event.properties, **lifted}, frozenset(lifted)


def present_identifiers(event: Event) -> set[str]:
    out = {k for k in ("user_id", "anonymous_id") if getattr(event, k)}
    ids, hashed = event.identifiers, event.hashed
    for name in ("email", "phone", "external_id"):
        if (ids is not None and getattr(ids, name)) or getattr(hashed, name + "_sha256"):
            out.add(name)
    return out


def check_event(plan: CompiledPlan, event: Event) -> CheckResult:
    """Check one canonical event against the plan (what the ingest stage calls)."""
    properties, lifted = plan_properties(event)
    result = plan.check(
        event.event_name, event.type, event.source, properties, present_identifiers(event)
    )
    if result.ok:
        return result
    for issue in result.issues:
        head = issue["path"].split("/")[2:3]
        # A lifted field, sent or missing, is a top-level field of the event (``/order_id``)
        # unless the sender put it in properties.
        if head and head[0] in LIFTED and (head[0] in lifted or head[0] not in event.properties):
            issue["path"] = issue["path"].removeprefix("/properties")
    return result


def conversions_of(plan: CompiledPlan, event: Event) -> list[ConversionDef]:
    """The conversions a canonical event counts as (filters see the lifted fields too)."""
    return plan.conversions_for(event.event_name, plan_properties(event)[0])
