"""Example values built from a property's JSON Schema, for generated docs.

The first ``enum`` value (or the ``const``), a string that fits the ``format``, a number or
string within the bounds, one item for an array, every declared property of an object
(required ones always). Good enough for documentation; the docs builder checks each
example against the compiled plan and says so when one does not validate.
"""

from __future__ import annotations

import math
import re
from typing import Any

from convtrack.plan.model import Condition, EventDef

FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2025-01-31T12:00:00Z",
    "date": "2025-01-31",
    "time": "12:00:00Z",
    "email": "jane@example.com",
    "idn-email": "jane@example.com",
    "hostname": "www.example.com",
    "idn-hostname": "www.example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://www.example.com/",
    "uri-reference": "/checkout",
    "iri": "https://www.example.com/",
    "iri-reference": "/checkout",
    "uri-template": "https://www.example.com/{id}",
    "json-pointer": "/items/0",
    "relative-json-pointer": "0/items",
    "regex": "^[a-z]+$",
    "currency": "EUR",
}
NAME_EXAMPLES: dict[str, Any] = {
    "order_id": "ORDER-1001",
    "item_id": "SKU-123",
    "product_id": "SKU-123",
    "item_name": "Blue T-shirt",
    "query": "t-shirt",
    "plan": "pro",
    "value": 49.9,
    "price": 24.95,
    "quantity": 2,
    "trial_days": 14,
    "version": "2.1.0",
    "url": "https://www.example.com/",
}


def example(schema: Any, name: str = "", currency: str = "EUR") -> Any:
    """One value that ``schema`` accepts (best effort)."""
    if not isinstance(schema, dict):
        return "example"
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return example({**schema[key][0]}, name, currency)
    kind = schema_type(schema)
    if kind == "string":
        return _string(schema, name, currency)
    if kind in ("number", "integer"):
        return _number(schema, name, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example(schema.get("items", {}), name, currency) for _ in range(count)]
    if kind == "object":
        return example_object(schema.get("properties", {}), currency)
    return NAME_EXAMPLES.get(name, "example")


def schema_type(schema: dict[str, Any]) -> str | None:
    """The (first non-null) type a schema names, inferred from keywords when absent."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0] if kinds else None
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & schema.keys():
        return "number"
    if {"minLength", "maxLength", "pattern", "format"} & schema.keys():
        return "string"
    return None


def example_object(properties: dict[str, Any], currency: str = "EUR") -> dict[str, Any]:
    return {k: example(v, k, currency) for k, v in properties.items()}


def event_example(event: EventDef, currency: str = "EUR") -> dict[str, Any]:
    """Every declared property of ``event`` (required ones included) with an example value."""
    props = example_object(event.properties, currency)
    for name in event.required:
        props.setdefault(name, "example")
    return props


def _string(schema: dict[str, Any], name: str, currency: str) -> str:
    fmt = schema.get("format")
    if fmt == "currency":
        text = currency
    elif isinstance(fmt, str) and fmt in FORMAT_EXAMPLES:
        text = FORMAT_EXAMPLES[fmt]
    else:
        text = str(NAME_EXAMPLES.get(name, "example"))
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = text.ljust(low, "x")
    if isinstance(high, int):
        text = text[:high]
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and not re.search(pattern, text):
        text = _pattern_guess(pattern) or text
    return text


def _pattern_guess(pattern: str) -> str | None:
    for guess in ("abc", "ABC", "123", "a1", "example", "abc-123", "ABC123", "a", "1"):
        if re.search(pattern, guess):
            return guess
    return None


def _number(schema: dict[str, Any], name: str, integer: bool) -> float | int:
    wanted = NAME_EXAMPLES.get(name)
    value = float(wanted) if isinstance(wanted, int | float) else (1.0 if integer else 9.99)
    step = 1.0 if integer else 0.01
    low = _bound(schema, "minimum", "exclusiveMinimum", step)
    high = _bound(schema, "maximum", "exclusiveMaximum", -step)
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high if low is None else max(low, high)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
    if integer:
        return int(math.ceil(value)) if low is not None else int(value)
    return round(value, 6)


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, step: float) -> float | None:
    found: list[float] = []
    if isinstance(schema.get(inclusive), int | float):
        found.append(float(schema[inclusive]))
    if isinstance(schema.get(exclusive), int | float):
        found.append(float(schema[exclusive]) + step)
    if not found:
        return None
    return max(found) if step > 0 else min(found)


def satisfy(props: dict[str, Any], where: dict[str, Condition | Any]) -> dict[str, Any]:
    """``props`` changed so that a conversion's ``where`` filter holds (top-level paths)."""
    out = dict(props)
    for path, cond in where.items():
        if "." in path:
            continue
        if not isinstance(cond, Condition):
            out[path] = cond
            continue
        value = _satisfying(cond, out.get(path))
        if value is _ABSENT:
            out.pop(path, None)
        else:
            out[path] = value
    return out


_ABSENT = object()


def _satisfying(c: Condition, current: Any) -> Any:
    if c.exists is False:
        return _ABSENT
    if c.eq is not None:
        return c.eq
    if c.in_:
        return c.in_[0]
    if c.ne is not None and current == c.ne:
        return (not c.ne) if isinstance(c.ne, bool) else f"not-{c.ne}"
    if c.not_in and current in c.not_in:
        return "other"
    low = c.gt + 1 if c.gt is not None else c.gte
    high = c.lt - 1 if c.lt is not None else c.lte
    if isinstance(current, int | float) and not isinstance(current, bool):
        if low is not None and current < low:
            return low
        if high is not None and current > high:
            return high
    elif low is not None or high is not None:
        return low if low is not None else high
    return "example" if current is None else current
