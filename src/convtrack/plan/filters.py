"""Property paths (``items.0.price``, dot-separated) and the conditions of ``where``.

A path walks nested objects by key and arrays by index. ``declared`` tells lint whether a
path exists in an event's property schemas; ``matches`` evaluates a ``where`` at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from convtrack.plan.model import Condition, Scalar

MISSING = object()
Test = Callable[[Mapping[str, Any]], bool]


def get(properties: Mapping[str, Any], path: str) -> Any:
    node: Any = properties
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part, MISSING)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def declared(schemas: Mapping[str, Any], path: str) -> bool:
    """Is ``path`` described by the event's property schemas (nested objects/arrays too)?"""
    first, *rest = path.split(".")
    node: Any = schemas.get(first)
    for part in rest:
        if not isinstance(node, dict):
            return False
        if part.isdigit() and isinstance(node.get("items"), dict):
            node = node["items"]
        else:
            node = (node.get("properties") or {}).get(part)
    return isinstance(node, dict) or node is True


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Scalar) -> bool:
    """Equality that does not confuse ``True`` with ``1``."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def condition_test(path: str, cond: Condition | Scalar) -> Test:
    if not isinstance(cond, Condition):
        cond = Condition(eq=cond)
    checks = _checks(cond)

    def test(properties: Mapping[str, Any]) -> bool:
        value = get(properties, path)
        return all(check(value) for check in checks)

    return test


def _checks(c: Condition) -> list[Callable[[Any], bool]]:
    checks: list[Callable[[Any], bool]] = []
    if c.exists is not None:
        checks.append(_exists(c.exists))
    if c.eq is not None:
        checks.append(_one_of([c.eq], True))
    if c.ne is not None:
        checks.append(_one_of([c.ne], False))
    if c.in_ is not None:
        checks.append(_one_of(c.in_, True))
    if c.not_in is not None:
        checks.append(_one_of(c.not_in, False))
    for op, bound in (("gt", c.gt), ("gte", c.gte), ("lt", c.lt), ("lte", c.lte)):
        if bound is not None:
            checks.append(_compare(op, bound))
    return checks


def _exists(want: bool) -> Callable[[Any], bool]:
    return lambda v: (v is not MISSING) == want


def _one_of(options: list[Scalar], want: bool) -> Callable[[Any], bool]:
    return lambda v: any(_same(v, o) for o in options) == want


def _compare(op: str, bound: float) -> Callable[[Any], bool]:
    if op == "gt":
        return lambda v: _num(v) and v > bound
    if op == "gte":
        return lambda v: _num(v) and v >= bound
    if op == "lt":
        return lambda v: _num(v) and v < bound
    return lambda v: _num(v) and v <= bound


def where_test(where: Mapping[str, Condition | Scalar]) -> Test:
    tests = [condition_test(path, cond) for path, cond in where.items()]
    return lambda properties: all(t(properties) for t in tests)
