"""``render_md(doc)``: the tracking-implementation document as Markdown.

Every plan-provided string is escaped: ``<``, ``>`` and ``&`` become entities (Markdown
viewers render raw HTML), Markdown punctuation is backslash-escaped, pipes in table cells
too, and code blocks use a fence longer than any backtick run inside them.
"""

from __future__ import annotations

import re

from convtrack.plan.docs_model import ConversionDoc, EventDoc, Example, PlanDoc, TreeNode

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\d*)([#+=>.)-])(?=\s|$)")
UNKNOWN = {
    "accept": "stored silently",
    "warn": "stored with a warning",
    "quarantine": "kept in quarantine",
}


def text(value: str) -> str:
    """Escape a plan-provided string for Markdown prose or a table cell."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", " ".join(value.split()))
    return _LINE_START.sub(r"\1\\\2", value)


def code(value: str) -> str:
    """Inline code (pipes escaped so it also works inside a table cell)."""
    value = " ".join(value.split())
    ticks = "`" * (max((len(r) for r in re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}".replace("|", "\\|")


def fence(example: Example) -> list[str]:
    ticks = "`" * max(3, max((len(r) for r in re.findall("`+", example.code)), default=0) + 1)
    return [f"**{example.label}**", "", f"{ticks}{example.language}", example.code, ticks, ""]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return [*out, ""]


def when(conditions: list[tuple[str, str]]) -> str:
    return " and ".join(
        f"{text(what)} {code(pattern)}" if pattern else text(what) for what, pattern in conditions
    )


def codes(values: list[str], empty: str = "any") -> str:
    return ", ".join(code(v) for v in values) if values else empty


def render_md(doc: PlanDoc) -> str:
    lines = [
        f"# Tracking plan {text(doc.version)}",
        "",
        "Generated from the tracking plan by `convtrack plan docs`: do not edit by hand.",
        "",
        f"- Plan version: {code(doc.version)}",
        f"- Unknown events: {code(doc.unknown_events)} ({UNKNOWN[doc.unknown_events]})",
        f"- Default currency: {code(doc.default_currency) if doc.default_currency else 'setting'}",
        f"- Events: {codes([e.name for e in doc.events], 'none')}",
        f"- Conversions: {codes([c.name for c in doc.conversions], 'none')}",
        "",
        "## Events",
        "",
    ]
    for event in doc.events:
        lines += _event(event)
    lines += ["## Conversions", ""]
    for conv in doc.conversions:
        lines += _conversion(conv)
    lines += ["## Conversion hierarchy", "", "A conversion also counts in every ancestor.", ""]
    lines += [line for node in doc.tree for line in _node(node, 0)] or ["No conversions."]
    lines += ["", "## Channel rules", "", "The first matching rule names the channel.", ""]
    rows = [
        [str(i), text(r.channel), when(r.conditions), "built-in" if r.builtin else "plan"]
        for i, r in enumerate(doc.rules, 1)
    ]
    lines += table(["#", "channel", "when", "from"], rows)
    lines += [f"No rule matches: {text(doc.fallback)}.", ""]
    return "\n".join(lines)


def _event(e: EventDoc) -> list[str]:
    lines = [f"### Event {code(e.name)}", ""]
    if e.description:
        lines += [text(e.description), ""]
    rows = [
        ["Owner", text(e.owner) or "—"],
        ["Aliases", codes(e.aliases, "none")],
        ["Types", codes(e.types)],
        ["Allowed sources", codes(e.sources)],
        ["Required identifiers", codes(e.identifiers, "none")],
        ["Conversions", codes(e.conversions, "none")],
        ["Other properties", "allowed" if e.additional_properties else "rejected"],
    ]
    lines += table(["", ""], rows)
    if e.properties:
        props = [
            [code(p.name), text(p.type), "yes" if p.required else "no", text(p.rules),
             text(p.description)]
            for p in e.properties
        ]  # fmt: skip
        lines += table(["property", "type", "required", "rules", "description"], props)
    for example in e.examples:
        lines += fence(example)
    lines += [f"> {text(note)}" for note in e.notes]
    return [*lines, ""] if e.notes else lines


def _conversion(c: ConversionDoc) -> list[str]:
    lines = [f"### Conversion {code(c.name)}", ""]
    if c.description:
        lines += [text(c.description), ""]
    rows = [
        ["Category", code(c.category)],
        ["Counts in", " › ".join(code(p) for p in c.rollup)],
        ["Level", c.level],
        ["Event", code(c.event)],
        ["Filter", text(c.filter) or "every such event"],
        ["Value", text(c.value)],
        ["Currency", text(c.currency)],
        ["Counting", code(c.counting)],
        ["Windows", text(c.windows)],
    ]
    rows += [[platform, text(mapping)] for platform, mapping in c.platforms]
    lines += table(["", ""], rows)
    return lines + (fence(c.example) if c.example else [])


def _node(node: TreeNode, depth: int) -> list[str]:
    line = f"{'  ' * depth}- {code(node.category)}: {codes(node.conversions, 'none')}"
    return [line, *(x for child in node.children for x in _node(child, depth + 1))]
