"""Compare two property schemas: which changes reject data the old schema accepted.

A change is **breaking** when some value valid under the old schema is invalid under the new
one (a narrower type, enum or bound, a new required property, a removed property), a
**revision** when it may invalidate some values already stored without being checked (a
property newly declared where undeclared properties were allowed), **compatible** when every
old value stays valid (widening) or only the words changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from convtrack.plan.schemas import pointer

Level = Literal["breaking", "revision", "compatible"]
LEVELS: tuple[Level, ...] = ("breaking", "revision", "compatible")
DOC_KEYS = frozenset({"description", "title", "examples", "default", "$comment"})
LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
EXACT = ("format", "pattern", "multipleOf")
HANDLED = frozenset(
    {"type", "enum", "const", "properties", "required", "additionalProperties", "items"}
    | {"uniqueItems", *LOWER, *UPPER, *EXACT}
    | DOC_KEYS
)


@dataclass(frozen=True)
class Change:
    path: str
    message: str
    level: Level

    def __str__(self) -> str:
        return f"{self.path}: {self.message} ({self.level})"


def join(base: str, *names: str | int) -> str:
    """``base`` (a path already) + ``/name`` for each name, escaped as in a JSON pointer."""
    return base + pointer(names)


def show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return "true" if value is True else "false" if value is False else str(value)


@dataclass(frozen=True)
class Shape:
    """An object's properties as a plan or a schema declares them."""

    properties: dict[str, Any]
    required: list[str]
    additional: bool

    @classmethod
    def of(cls, schema: dict[str, Any]) -> Shape:
        extra = schema.get("additionalProperties", True)
        return cls(schema.get("properties") or {}, schema.get("required") or [], extra is not False)


def compare_object(path: str, old: Shape, new: Shape) -> list[Change]:
    out = []
    for name in old.properties.keys() - new.properties.keys():
        out.append(Change(join(path, name), "removed", "breaking"))
    for name in sorted(new.properties.keys() - old.properties.keys()):
        if name in new.required:
            out.append(Change(join(path, name), "added as required", "breaking"))
        elif old.additional:
            msg = "added (events stored before may carry it with another shape)"
            out.append(Change(join(path, name), msg, "revision"))
        else:
            out.append(Change(join(path, name), "added", "compatible"))
    added = new.properties.keys() - old.properties.keys()
    for name in sorted(set(new.required) - set(old.required) - added):
        out.append(Change(join(path, name), "now required", "breaking"))
    for name in sorted(set(old.required) - set(new.required)):
        out.append(Change(join(path, name), "no longer required", "compatible"))
    if old.additional and not new.additional:
        out.append(Change(path, "undeclared properties now rejected", "breaking"))
    elif new.additional and not old.additional:
        out.append(Change(path, "undeclared properties now allowed", "compatible"))
    for name in old.properties.keys() & new.properties.keys():
        out += compare_schema(join(path, name), old.properties[name], new.properties[name])
    return sorted(out, key=lambda c: c.path)


def compare_schema(path: str, old: Any, new: Any) -> list[Change]:
    """Changes between two property schemas (JSON Schema draft-07, ``True`` = anything)."""
    old, new = _dict(old), _dict(new)
    if old == new:
        return []
    out = _types(path, old, new) + _enums(path, old, new) + _bounds(path, old, new)
    if (old.get("uniqueItems") or False) != (new.get("uniqueItems") or False):
        level: Level = "breaking" if new.get("uniqueItems") else "compatible"
        out.append(Change(path, f"uniqueItems {show(bool(new.get('uniqueItems')))}", level))
    if any(k in old or k in new for k in ("properties", "required", "additionalProperties")):
        out += compare_object(path, Shape.of(old), Shape.of(new))
    if old.get("items") != new.get("items"):
        out += compare_schema(join(path, "items"), old.get("items", True), new.get("items", True))
    for key in sorted((old.keys() | new.keys()) - HANDLED):
        if old.get(key) != new.get(key):
            msg = f"{key} changed (convtrack cannot prove it compatible)"
            out.append(Change(path, msg, "breaking"))
    if any(old.get(k) != new.get(k) for k in DOC_KEYS):
        out.append(Change(path, "description changed", "compatible"))
    return out


def _dict(schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    return {} if schema is not False else {"not": {}}


def _type_set(schema: dict[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return set(kind) if isinstance(kind, list) else {kind}


def _covers(wide: set[str] | None, narrow: set[str] | None) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _types(path: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    a, b = _type_set(old), _type_set(new)
    if a == b:
        return []
    msg = f"type {show(old.get('type', 'any'))} → {show(new.get('type', 'any'))}"
    return [Change(path, msg, "compatible" if _covers(b, a) else "breaking")]


def _values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _enums(path: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    a, b = _values(old), _values(new)
    if a == b:
        return []
    if b is None:
        return [Change(path, "enum removed (any value)", "compatible")]
    if a is None:
        return [Change(path, f"enum added: {show(b)}", "breaking")]
    gone = [v for v in a if v not in b]
    added = [v for v in b if v not in a]
    out = []
    if gone:
        out.append(Change(path, f"enum values removed: {show(gone)}", "breaking"))
    if added:
        out.append(Change(path, f"enum values added: {show(added)}", "compatible"))
    return out


def _bounds(path: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    out = []
    for key in (*LOWER, *UPPER, *EXACT):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        msg = (
            f"{key} {show(a) if a is not None else 'none'} → {show(b) if b is not None else 'none'}"
        )
        if b is None:
            level: Level = "compatible"
        elif a is None or key in EXACT:
            level = "breaking"
        elif isinstance(a, int | float) and isinstance(b, int | float):
            level = "breaking" if (b > a if key in LOWER else b < a) else "compatible"
        else:
            level = "breaking"
        out.append(Change(path, msg, level))
    return out
