"""Plain-text phrases for generated plan docs: property rules, filters, values, mappings."""

from __future__ import annotations

import json
from typing import Any

from convtrack.plan.model import ChannelRule, Condition, Platforms, Value

PropertyRow = tuple[str, str, bool, str, str]  # name, type, required, rules, description

_BOUNDS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("multipleOf", "multiple of"),
)
_LENGTHS = (
    ("minLength", "length ≥"),
    ("maxLength", "length ≤"),
    ("minItems", "items ≥"),
    ("maxItems", "items ≤"),
)


def show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def type_text(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "any"
    kind = schema.get("type")
    text = " | ".join(kind) if isinstance(kind, list) else (kind or "any")
    items = schema.get("items")
    if text == "array" and isinstance(items, dict) and items.get("type"):
        text = f"array of {type_text(items)}"
    return text


def rules_text(schema: Any) -> str:
    """``one of: a, b; format currency; ≥ 0; length ≤ 128`` for one property schema."""
    if not isinstance(schema, dict):
        return ""
    parts = []
    if "const" in schema:
        parts.append(f"= {show(schema['const'])}")
    if isinstance(schema.get("enum"), list):
        parts.append("one of: " + ", ".join(show(v) for v in schema["enum"]))
    if "format" in schema:
        parts.append(f"format {show(schema['format'])}")
    parts += [f"{sign} {show(schema[k])}" for k, sign in _BOUNDS if k in schema]
    parts += [f"{sign} {show(schema[k])}" for k, sign in _LENGTHS if k in schema]
    if "pattern" in schema:
        parts.append(f"matches {show(schema['pattern'])}")
    if schema.get("uniqueItems"):
        parts.append("unique items")
    return "; ".join(parts)


def property_rows(
    properties: dict[str, Any], required: list[str], prefix: str = ""
) -> list[PropertyRow]:
    """One row per property, nested object properties as ``a.b`` and array items as ``a[].b``."""
    rows: list[PropertyRow] = []
    for name, schema in properties.items():
        path = prefix + name
        desc = schema.get("description", "") if isinstance(schema, dict) else ""
        rows.append((path, type_text(schema), name in required, rules_text(schema), str(desc)))
        rows += _nested(schema, path)
    return rows


def _nested(schema: Any, path: str) -> list[PropertyRow]:
    if not isinstance(schema, dict):
        return []
    rows = []
    if isinstance(schema.get("properties"), dict):
        rows += property_rows(schema["properties"], schema.get("required", []), path + ".")
    items = schema.get("items")
    if isinstance(items, dict) and isinstance(items.get("properties"), dict):
        rows += property_rows(items["properties"], items.get("required", []), path + "[].")
    return rows


def condition_text(where: dict[str, Condition | Any]) -> str:
    """``renewal ≠ true and value > 100``; empty for no filter."""
    parts = []
    for path, cond in where.items():
        if not isinstance(cond, Condition):
            parts.append(f"{path} = {show(cond)}")
            continue
        for key, sign in (
            ("eq", "="), ("ne", "≠"), ("in_", "in"), ("not_in", "not in"),
            ("gt", ">"), ("gte", "≥"), ("lt", "<"), ("lte", "≤"),
        ):  # fmt: skip
            value = getattr(cond, key)
            if value is not None:
                parts.append(f"{path} {sign} {show(value)}")
        if cond.exists is not None:
            parts.append(f"{path} {'exists' if cond.exists else 'is absent'}")
    return " and ".join(parts)


def value_text(value: Value | None) -> str:
    if value is None:
        return "none"
    if value.property is not None:
        return f"property {value.property}"
    return f"fixed {value.fixed:g}"


def platform_rows(platforms: Platforms) -> list[tuple[str, str]]:
    rows = []
    if platforms.meta:
        rows.append(("Meta", f"event {platforms.meta.event}"))
    if platforms.google:
        g = platforms.google
        bits = [f"conversion action {g.conversion_action_id}" if g.conversion_action_id else ""]
        bits.append(f"destination {g.destination}" if g.destination else "")
        rows.append(("Google Ads", ", ".join(b for b in bits if b)))
    if platforms.ga4:
        rows.append(("GA4", f"event {platforms.ga4.event}"))
    if platforms.tiktok:
        rows.append(("TikTok", f"event {platforms.tiktok.event}"))
    return rows


def rule_conditions(rule: ChannelRule) -> list[tuple[str, str]]:
    """(what, pattern or list) pairs; a rule matches when all of them hold."""
    parts = []
    if rule.click_ids:
        parts.append(("click id", ", ".join(rule.click_ids)))
    for key in ("utm_source", "utm_medium", "utm_campaign"):
        if getattr(rule, key) is not None:
            parts.append((f"{key} matches", str(getattr(rule, key))))
    if rule.referrer_domains:
        parts.append(("referrer in", ", ".join(rule.referrer_domains)))
    if rule.direct is not None:
        parts.append(("direct" if rule.direct else "not direct", ""))
    return parts
