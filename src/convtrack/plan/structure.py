"""Shape checks before decoding: unknown keys (with suggestions) and wrong types.

The walk follows the struct types in ``model.py`` so *every* unknown key is reported, not
only the first one msgspec would stop at; type errors come from msgspec, decoded one list
item at a time so each bad event or conversion gets its own message.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import msgspec

from convtrack.plan.model import Plan
from convtrack.plan.problems import Finding, suggest
from convtrack.plan.yamlnodes import Located, Path

_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_LISTS = ("events", "conversions")
_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _struct_of(tp: Any) -> list[Any]:
    """The candidate types inside Optional/Union/Annotated."""
    if typing.get_origin(tp) is typing.Annotated:
        return _struct_of(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _struct_of(arg)]
    return [tp]


def _walk(value: Any, tp: Any, path: Path, out: list[Finding]) -> None:
    for cand in _struct_of(tp):
        origin = typing.get_origin(cand)
        if isinstance(cand, type) and issubclass(cand, msgspec.Struct) and isinstance(value, dict):
            _walk_struct(value, cand, path, out)
            return
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(cand)
            for i, v in enumerate(value):
                _walk(v, item, (*path, i), out)
            return
        if origin is dict and isinstance(value, dict):
            _, item = typing.get_args(cand)
            for k, v in value.items():
                _walk(v, item, (*path, k), out)
            return


def _walk_struct(
    value: dict[str, Any], cls: type[msgspec.Struct], path: Path, out: list[Finding]
) -> None:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
    for key, child in value.items():
        field = fields.get(key)
        if field is None:
            where = ".".join(str(p) for p in path) or "the plan"
            msg = f"unknown key {key!r} in {where}{suggest(key, fields)}"
            out.append(Finding((*path, key), msg, at_key=True))
        else:
            _walk(child, hints[field.name], (*path, key), out)


def unknown_keys(value: Any) -> list[Finding]:
    out: list[Finding] = []
    _walk(value, Plan, (), out)
    return out


def parse_path(text: str) -> Path:
    """msgspec's ``.events[0].name`` → ``("events", 0, "name")``.

    msgspec writes a mapping's key as ``[...]``; the path stops there (the enclosing node).
    """
    return tuple(int(i) if i else name for name, i in _TOKEN.findall(text.split("[...]")[0]))


def type_error(exc: msgspec.ValidationError, base: Path = ()) -> Finding:
    match = _AT.match(str(exc))
    reason = match["reason"] if match else str(exc)
    path = base + parse_path((match and match["path"]) or "")
    return Finding(path, f"{_prefix(path)}{reason}")


def _prefix(path: Path) -> str:
    return ".".join(str(p) for p in path) + ": " if path else ""


def decode(located: Located) -> tuple[Plan | None, list[Finding]]:
    """The plan, or None and every shape problem found."""
    value = located.value
    if not isinstance(value, dict):
        return None, [Finding((), "a plan is a mapping with at least a `version` key")]
    found = unknown_keys(value)
    try:
        plan = msgspec.convert(value, Plan, strict=True)
    except msgspec.ValidationError as exc:
        found.extend(_item_errors(value) or [type_error(exc)])
        return None, _dedupe(found)
    return (plan if not found else None), found


def _item_errors(value: dict[str, Any]) -> list[Finding]:
    """Decode each list item on its own to report one error per bad event/conversion."""
    from convtrack.plan.model import ConversionDef, EventDef

    out: list[Finding] = []
    for key, cls in zip(_LISTS, (EventDef, ConversionDef), strict=True):
        items = value.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            try:
                msgspec.convert(item, cls, strict=True)
            except msgspec.ValidationError as exc:
                out.append(type_error(exc, (key, i)))
    rest = {k: v for k, v in value.items() if not (k in _LISTS and isinstance(v, list))}
    try:
        msgspec.convert(rest, Plan, strict=True)
    except msgspec.ValidationError as exc:
        out.append(type_error(exc))
    return out


def _dedupe(found: list[Finding]) -> list[Finding]:
    """Unknown keys are reported by the walk; drop msgspec's copy of the same finding."""
    unknown = {f.path[-1] for f in found if f.at_key}
    out = []
    for f in found:
        m = _UNKNOWN.match(f.message.split(": ", 1)[-1])
        if not f.at_key and m and m[1] in unknown:
            continue
        out.append(f)
    return out
