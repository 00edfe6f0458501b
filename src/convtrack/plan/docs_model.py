"""``plan_doc(plan)``: the plan as a neutral document structure, for the md/html renderers.

Everything a reader of the tracking-implementation document needs, in plain strings: the
renderers only lay it out (and escape it). Each example payload is checked against the
compiled plan here; one that does not validate carries a note saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convtrack.plan.compiled import CompiledPlan, compile_plan
from convtrack.plan.docs_text import (
    condition_text,
    platform_rows,
    property_rows,
    rule_conditions,
    value_text,
)
from convtrack.plan.examples import event_example, satisfy
from convtrack.plan.hierarchy import rollup, tree
from convtrack.plan.model import ConversionDef, EventDef, Plan
from convtrack.plan.payloads import BASE_URL, api_body, curl_command, pixel_url, tag_snippet


@dataclass(frozen=True)
class PropertyDoc:
    name: str
    type: str
    required: bool
    rules: str
    description: str


@dataclass(frozen=True)
class Example:
    label: str
    language: str  # "js", "text" or "sh"
    code: str


@dataclass(frozen=True)
class EventDoc:
    name: str
    description: str
    owner: str
    aliases: list[str]
    types: list[str]
    sources: list[str]
    identifiers: list[str]
    properties: list[PropertyDoc]
    additional_properties: bool
    conversions: list[str]
    examples: list[Example]
    notes: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)  # the server API body, for tests


@dataclass(frozen=True)
class ConversionDoc:
    name: str
    description: str
    category: str
    rollup: list[str]
    level: str
    event: str
    filter: str
    value: str
    currency: str
    counting: str
    windows: str
    platforms: list[tuple[str, str]]
    example: Example | None


@dataclass(frozen=True)
class TreeNode:
    category: str
    conversions: list[str]
    children: list[TreeNode]


@dataclass(frozen=True)
class RuleDoc:
    channel: str
    conditions: list[tuple[str, str]]  # (what, pattern); all must hold
    builtin: bool


@dataclass(frozen=True)
class PlanDoc:
    version: str
    default_currency: str
    unknown_events: str
    events: list[EventDoc]
    conversions: list[ConversionDoc]
    tree: list[TreeNode]
    rules: list[RuleDoc]
    fallback: str


def plan_doc(plan: Plan, base_url: str = BASE_URL, currency: str = "EUR") -> PlanDoc:
    """The document for ``plan`` (which should lint clean)."""
    compiled = compile_plan(plan)
    currency = plan.default_currency or currency
    ctx = _Ctx(compiled, base_url, currency)
    return PlanDoc(
        version=plan.version,
        default_currency=plan.default_currency or "",
        unknown_events=plan.unknown_events,
        events=[ctx.event(e) for e in plan.events],
        conversions=[ctx.conversion(c) for c in plan.conversions],
        tree=_tree(plan.conversions),
        rules=_rules(plan),
        fallback=plan.channels.fallback,
    )


def example_kind(event: EventDef, is_conversion: bool) -> str:
    """The type the examples send ``event`` as."""
    allowed = event.types or ["conversion" if is_conversion else "track"]
    for kind in ("conversion" if is_conversion else "", "track"):
        if kind in allowed:
            return kind
    return allowed[0]


def identifier_choice(event: EventDef) -> list[str]:
    """One identifier from each required group (the first)."""
    return [g if isinstance(g, str) else g[0] for g in event.required_identifiers]


@dataclass(frozen=True)
class _Ctx:
    compiled: CompiledPlan
    base_url: str
    currency: str

    def event(self, e: EventDef) -> EventDoc:
        convs = [c.name for c in self.compiled.plan.conversions if c.event == e.name]
        body = self.body(e, event_example(e, self.currency), bool(convs))
        examples, notes = self.examples(e, body)
        return EventDoc(
            name=e.name,
            description=e.description,
            owner=e.owner,
            aliases=list(e.aliases),
            types=list(e.types),
            sources=list(e.sources),
            identifiers=[
                g if isinstance(g, str) else " or ".join(g) for g in e.required_identifiers
            ],
            properties=[PropertyDoc(*row) for row in property_rows(e.properties, e.required)],
            additional_properties=e.additional_properties,
            conversions=convs,
            examples=examples,
            notes=notes,
            body=body,
        )

    def body(self, e: EventDef, props: dict[str, Any], conversion: bool) -> dict[str, Any]:
        return api_body(e.name, example_kind(e, conversion), props, identifier_choice(e))

    def examples(self, e: EventDef, body: dict[str, Any]) -> tuple[list[Example], list[str]]:
        out, notes = [], []
        allowed = set(e.sources or ("tag", "pixel", "server"))
        tag = tag_snippet(body)
        if "tag" in allowed and tag is not None:
            out.append(Example("Browser tag", "js", tag))
        if "pixel" in allowed and body["type"] != "identify":
            url, left_out = pixel_url(body, e.properties, self.base_url)
            if left_out:
                names = ", ".join(left_out)
                notes.append(f"The pixel sends strings only; left out of its URL: {names}.")
            if set(left_out) & set(e.required):
                notes.append("This event cannot be sent by the pixel (a required property).")
            else:
                out.append(Example("Pixel URL", "text", url))
        if "server" in allowed:
            out.append(Example("Server API", "sh", curl_command(body, self.base_url)))
        notes += self.check(body, sorted(allowed & {"tag", "server"}))
        return out, notes

    def check(self, body: dict[str, Any], sources: list[str]) -> list[str]:
        props = dict(body.get("properties", {}))
        props.update({k: body[k] for k in ("value", "currency", "order_id") if k in body})
        present = {"anonymous_id", *body.get("identifiers", {}), *body.keys() & {"user_id"}}
        notes = []
        for source in sources:
            result = self.compiled.check(body["event_name"], body["type"], source, props, present)
            notes += [
                f"Example does not validate: {i['path']}: {i['reason']}" for i in result.issues
            ]
        return notes

    def conversion(self, c: ConversionDef) -> ConversionDoc:
        event = next((e for e in self.compiled.plan.events if e.name == c.event), None)
        example = None
        if event is not None:
            props = satisfy(event_example(event, self.currency), c.where)
            snippet = tag_snippet(self.body(event, props, True))
            example = Example("Browser tag", "js", snippet) if snippet else None
        return ConversionDoc(
            name=c.name,
            description=c.description,
            category=c.category,
            rollup=rollup(c.category),
            level=c.level,
            event=c.event,
            filter=condition_text(c.where),
            value=value_text(c.value),
            currency=c.currency or "the event's currency, else the default currency",
            counting=c.counting,
            windows=f"click {c.windows.click_days} d, view {c.windows.view_days} d",
            platforms=platform_rows(c.platforms),
            example=example,
        )


def _tree(conversions: list[ConversionDef]) -> list[TreeNode]:
    children = tree(c.category for c in conversions)
    names: dict[str, list[str]] = {}
    for c in conversions:
        names.setdefault(c.category, []).append(c.name)

    def node(category: str) -> TreeNode:
        kids = [node(k) for k in children.get(category, [])]
        return TreeNode(category, names.get(category, []), kids)

    return [node(root) for root in children.get("", [])]


def _rules(plan: Plan) -> list[RuleDoc]:
    from convtrack.plan.channels import DEFAULT_RULES

    own = [RuleDoc(r.channel, rule_conditions(r), False) for r in plan.channels.rules]
    if not plan.channels.include_defaults:
        return own
    return own + [RuleDoc(r.channel, rule_conditions(r), True) for r in DEFAULT_RULES]
