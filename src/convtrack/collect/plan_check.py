"""Hold each canonical event to the tracking plan, right after its protocol adapter made it.

An event with issues goes to quarantine with them as reasons; a passing one takes the
plan's canonical name (aliases such as "Order Completed" become ``purchase``) and the plan
version it was checked against. Warnings (an unknown event under ``unknown_events: warn``)
are only reported to the sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convtrack.collect.parse import issue
from convtrack.events import Event
from convtrack.plan import CompiledPlan, check_event

Reasons = list[dict[str, Any]]


@dataclass(frozen=True)
class Verdict:
    issues: Reasons = field(default_factory=list)
    warnings: Reasons = field(default_factory=list)


def apply_plan(plan: CompiledPlan, event: Event, index: int | None) -> Verdict:
    """Check ``event``; when it passes, rename it to its canonical name and stamp the version.

    Every issue and warning carries ``index`` (in a batch) and a JSON ``path``."""
    result = check_event(plan, event)
    if result.issues:
        return Verdict([issue(index, i["path"], i["reason"]) for i in result.issues])
    event.event_name = result.canonical_name
    event.plan_version = plan.version
    if not result.warnings:
        return _PASS
    return Verdict(warnings=[issue(index, w["path"], w["reason"]) for w in result.warnings])


_PASS = Verdict()
