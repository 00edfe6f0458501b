"""``compile_plan(plan)``: everything ingest needs, prepared once, checked per event fast.

Per event ``check`` does a dict lookup for the name (aliases included), two set tests for
type and source, a loop over the required identifiers and one call of the
fastjsonschema-generated validator. Only when that validator fails does the slower
``jsonschema`` validator run, to list every error with its JSON pointer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator

from convtrack.plan.channels import ChannelGrouping, grouping
from convtrack.plan.filters import Test, where_test
from convtrack.plan.model import AdjustmentDef, ConversionDef, EventDef, Plan
from convtrack.plan.schemas import compile_fast, event_schema, explainer, pointer

Issue = dict[str, str]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one event. ``issues`` non-empty means quarantine it."""

    canonical_name: str
    known: bool
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class _Event:
    definition: EventDef
    types: frozenset[str]
    sources: frozenset[str]
    identifiers: tuple[frozenset[str], ...]  # each: at least one of these must be present
    validate: Callable[[Any], Any] | None
    explain: Draft7Validator | None


@dataclass(frozen=True)
class CompiledPlan:
    """A plan ready for ingest. Build with ``compile_plan``; immutable and thread-safe."""

    plan: Plan
    events: Mapping[str, _Event]
    names: Mapping[str, str]  # every name and alias → canonical name
    conversions: Mapping[str, tuple[tuple[ConversionDef, Test], ...]]
    channels: ChannelGrouping
    #: canonical event name → the adjustments it makes (``adjustments[]`` in the plan)
    adjustments: Mapping[str, tuple[tuple[AdjustmentDef, Test], ...]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.plan.version

    def canonical(self, event_name: str) -> str:
        return self.names.get(event_name, event_name)

    def check(
        self,
        event_name: str,
        type: str,
        source: str,
        properties: Mapping[str, Any],
        present_identifiers: Collection[str],
    ) -> CheckResult:
        name = self.names.get(event_name)
        if name is None:
            return self._unknown(event_name)
        ev = self.events[name]
        issues: list[Issue] = []
        if ev.types and type not in ev.types:
            allowed = ", ".join(sorted(ev.types))
            reason = f"{name!r} may not arrive as {type!r} (allowed: {allowed})"
            issues.append(_issue("/type", reason))
        if ev.sources and source not in ev.sources:
            allowed = ", ".join(sorted(ev.sources))
            reason = f"source {source!r} may not send {name!r} (allowed: {allowed})"
            issues.append(_issue("", reason))
        for group in ev.identifiers:
            if group.isdisjoint(present_identifiers):
                need = " or ".join(sorted(group))
                issues.append(_issue(_ID_POINTER.get(min(group), ""), f"{name!r} requires {need}"))
        if ev.validate is not None:
            issues.extend(_validate(ev, properties))
        return CheckResult(name, True, issues)

    def _unknown(self, event_name: str) -> CheckResult:
        policy = self.plan.unknown_events
        if policy == "accept":
            return CheckResult(event_name, False)
        found = _issue("/event_name", f"{event_name!r} is not in tracking plan {self.version}")
        if policy == "warn":
            return CheckResult(event_name, False, warnings=[found])
        return CheckResult(event_name, False, issues=[found])

    def conversions_for(
        self, event_name: str, properties: Mapping[str, Any]
    ) -> list[ConversionDef]:
        """The conversions an event (name or alias) with these properties counts as."""
        rules = self.conversions.get(self.names.get(event_name, event_name), ())
        return [conv for conv, test in rules if test(properties)]

    def converts(self, event_name: str) -> bool:
        """Whether the plan defines any conversion on this event (name or alias)."""
        return self.names.get(event_name, event_name) in self.conversions

    def adjustments_for(
        self, event_name: str, properties: Mapping[str, Any]
    ) -> list[tuple[AdjustmentDef, ConversionDef]]:
        """The adjustments an event makes, each with the conversion it adjusts."""
        rules = self.adjustments.get(self.names.get(event_name, event_name), ())
        if not rules:
            return []
        by_name = {c.name: c for c in self.plan.conversions}
        return [
            (adj, by_name[adj.conversion])
            for adj, test in rules
            if adj.conversion in by_name and test(properties)
        ]


_ID_POINTER = {
    "email": "/identifiers/email",
    "phone": "/identifiers/phone",
    "external_id": "/identifiers/external_id",
    "user_id": "/user_id",
    "anonymous_id": "/anonymous_id",
}


def _issue(path: str, reason: str) -> Issue:
    return {"path": path, "reason": reason}


def _validate(ev: _Event, properties: Mapping[str, Any]) -> list[Issue]:
    assert ev.validate is not None and ev.explain is not None
    try:
        ev.validate(properties)
        return []
    except fastjsonschema.JsonSchemaValueException as exc:
        reason = exc.message.removeprefix(exc.name or "").strip()
        first = _issue("/properties" + pointer((exc.path or [])[1:]), reason)
    errors = sorted(ev.explain.iter_errors(properties), key=lambda e: [str(p) for p in e.path])
    if not errors:  # the two validators disagree (a format only one checks): keep the first
        return [first]
    return [_issue("/properties" + pointer(_where(e)), e.message) for e in errors]


_MISSING = re.compile(r"^'(.+)' is a required property$")


def _where(error: Any) -> list[Any]:
    """Where an error is: a missing required property points at that property itself."""
    path = list(error.absolute_path)
    if error.validator == "required" and (missing := _MISSING.match(error.message)):
        path.append(missing[1])  # jsonschema reports one missing property per error
    return path


def _compile_event(e: EventDef) -> _Event:
    has_schema = bool(e.properties or e.required or not e.additional_properties)
    schema = event_schema(e)
    groups = tuple(frozenset([g] if isinstance(g, str) else g) for g in e.required_identifiers)
    return _Event(
        e,
        frozenset(e.types),
        frozenset(e.sources),
        groups,
        compile_fast(schema) if has_schema else None,
        explainer(schema) if has_schema else None,
    )


def compile_plan(plan: Plan) -> CompiledPlan:
    """Compile every schema, regex and filter once. ``plan`` should lint clean."""
    events = {e.name: _compile_event(e) for e in plan.events}
    names = {n: e.name for e in plan.events for n in (e.name, *e.aliases)}
    conversions: dict[str, list[tuple[ConversionDef, Test]]] = {}
    for c in plan.conversions:
        conversions.setdefault(c.event, []).append((c, where_test(c.where)))
    frozen = {k: tuple(v) for k, v in conversions.items()}
    adjustments: dict[str, list[tuple[AdjustmentDef, Test]]] = {}
    for a in plan.adjustments:
        adjustments.setdefault(a.event, []).append((a, where_test(a.where)))
    return CompiledPlan(
        plan,
        events,
        names,
        frozen,
        grouping(plan.channels),
        {k: tuple(v) for k, v in adjustments.items()},
    )
