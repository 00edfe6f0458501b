"""``render_html(doc)``: the tracking-implementation document as one self-contained page.

No external assets (styles inline, no scripts). Every plan-provided string goes through
``e()`` (``html.escape`` with quotes) — names, descriptions, schemas and example code alike.
"""

from __future__ import annotations

import re
from html import escape

from convtrack.plan.docs_model import ConversionDoc, EventDoc, Example, PlanDoc, TreeNode
from convtrack.plan.render_md import UNKNOWN

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#1d232a}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2.5rem}
h3{margin-top:2rem}code,pre{font:13px ui-monospace,monospace;background:#f3f4f6}
pre{padding:.75rem;overflow-x:auto;border-radius:4px}
table{border-collapse:collapse;margin:.75rem 0}
td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.note{border-left:4px solid #d4a72c;padding-left:.75rem}
nav ul{columns:3}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def slug(kind: str, name: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def c(value: str) -> str:
    return f"<code>{e(value)}</code>"


def when(conditions: list[tuple[str, str]]) -> str:
    return " and ".join(
        f"{e(what)} {c(pattern)}" if pattern else e(what) for what, pattern in conditions
    )


def codes(values: list[str], empty: str = "any") -> str:
    return ", ".join(c(v) for v in values) if values else empty


def table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (callers escape plan strings)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{x}</td>" for x in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def example_html(x: Example) -> str:
    return f'<h4>{e(x.label)}</h4><pre><code class="{e(x.language)}">{e(x.code)}</code></pre>'


def render_html(doc: PlanDoc) -> str:
    title = f"Tracking plan {e(doc.version)}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        "<p>Generated from the tracking plan by <code>convtrack plan docs</code>: "
        "do not edit by hand.</p>",
        pairs(
            [
                ("Plan version", c(doc.version)),
                ("Unknown events", f"{c(doc.unknown_events)} ({UNKNOWN[doc.unknown_events]})"),
                (
                    "Default currency",
                    c(doc.default_currency) if doc.default_currency else "setting",
                ),
            ]
        ),
        _nav(doc),
        '<h2 id="events">Events</h2>',
        *(_event(x) for x in doc.events),
        '<h2 id="conversions">Conversions</h2>',
        *(_conversion(x) for x in doc.conversions),
        '<h2 id="hierarchy">Conversion hierarchy</h2>',
        "<p>A conversion also counts in every ancestor.</p>",
        "<ul>" + "".join(_node(n) for n in doc.tree) + "</ul>",
        '<h2 id="channels">Channel rules</h2>',
        "<p>The first matching rule names the channel.</p>",
        table(
            ["#", "channel", "when", "from"],
            [
                [str(i), e(r.channel), when(r.conditions), "built-in" if r.builtin else "plan"]
                for i, r in enumerate(doc.rules, 1)
            ],
        ),
        f"<p>No rule matches: {e(doc.fallback)}.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _link(kind: str, name: str) -> str:
    return f'<li><a href="#{e(slug(kind, name))}">{e(name)}</a></li>'


def _nav(doc: PlanDoc) -> str:
    events = "".join(_link("event", x.name) for x in doc.events)
    convs = "".join(_link("conversion", x.name) for x in doc.conversions)
    return (
        f"<nav><h2>Contents</h2><h3>Events</h3><ul>{events}</ul>"
        f"<h3>Conversions</h3><ul>{convs}</ul>"
        '<p><a href="#hierarchy">Conversion hierarchy</a> · '
        '<a href="#channels">Channel rules</a></p></nav>'
    )


def _event(x: EventDoc) -> str:
    out = [f'<h3 id="{e(slug("event", x.name))}">Event {c(x.name)}</h3>']
    if x.description:
        out.append(f"<p>{e(x.description)}</p>")
    out.append(
        pairs(
            [
                ("Owner", e(x.owner) or "—"),
                ("Aliases", codes(x.aliases, "none")),
                ("Types", codes(x.types)),
                ("Allowed sources", codes(x.sources)),
                ("Required identifiers", codes(x.identifiers, "none")),
                ("Conversions", codes(x.conversions, "none")),
                ("Other properties", "allowed" if x.additional_properties else "rejected"),
            ]
        )
    )
    if x.properties:
        rows = [
            [c(p.name), e(p.type), "yes" if p.required else "no", e(p.rules), e(p.description)]
            for p in x.properties
        ]
        out.append(table(["property", "type", "required", "rules", "description"], rows))
    out += [example_html(ex) for ex in x.examples]
    out += [f'<p class="note">{e(note)}</p>' for note in x.notes]
    return "\n".join(out)


def _conversion(x: ConversionDoc) -> str:
    rows = [
        ("Category", c(x.category)),
        ("Counts in", " › ".join(c(p) for p in x.rollup)),
        ("Level", e(x.level)),
        ("Event", f'<a href="#{e(slug("event", x.event))}">{c(x.event)}</a>'),
        ("Filter", e(x.filter) or "every such event"),
        ("Value", e(x.value)),
        ("Currency", e(x.currency)),
        ("Counting", c(x.counting)),
        ("Windows", e(x.windows)),
        *((e(platform), e(mapping)) for platform, mapping in x.platforms),
    ]
    out = [f'<h3 id="{e(slug("conversion", x.name))}">Conversion {c(x.name)}</h3>']
    if x.description:
        out.append(f"<p>{e(x.description)}</p>")
    out.append(pairs(rows))
    if x.example:
        out.append(example_html(x.example))
    return "\n".join(out)


def _node(node: TreeNode) -> str:
    kids = "".join(_node(k) for k in node.children)
    inner = f"{c(node.category)}: {codes(node.conversions, 'none')}"
    return f"<li>{inner}" + (f"<ul>{kids}</ul>" if kids else "") + "</li>"
