"""Each event's property schema: assembled, checked against the meta-schema, compiled once.

A plan lists properties one by one (``properties: {value: {type: number}}``) plus
``required`` and ``additional_properties``; here they become one draft-07 object schema.
``fastjsonschema`` compiles it to Python code for the fast path; a ``jsonschema`` validator
(built once too) explains failures with every error and its JSON pointer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema import Draft7Validator

from convtrack.currencies import ISO_4217
from convtrack.plan.model import EventDef

DRAFT = "http://json-schema.org/draft-07/schema#"
# Formats both validators understand; an unknown format would be silently ignored.
CUSTOM_FORMATS: dict[str, Callable[[str], bool]] = {"currency": lambda s: s in ISO_4217}
FORMATS: frozenset[str] = frozenset(
    {
        "date-time",
        "date",
        "time",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    }  # fmt: skip
    | CUSTOM_FORMATS.keys()
)


def event_schema(event: EventDef) -> dict[str, Any]:
    schema: dict[str, Any] = {"$schema": DRAFT, "type": "object"}
    if event.properties:
        schema["properties"] = event.properties
    if event.required:
        schema["required"] = event.required
    if not event.additional_properties:
        schema["additionalProperties"] = False
    return schema


SchemaPath = tuple[str | int, ...]


def schema_errors(schema: dict[str, Any]) -> Iterator[tuple[SchemaPath, str]]:
    """(path inside the schema, message) for each meta-schema violation or unknown format."""
    for err in Draft7Validator(Draft7Validator.META_SCHEMA).iter_errors(schema):
        yield tuple(err.absolute_path), f"invalid JSON Schema: {err.message}"
    yield from _extra_checks(schema, ())


def _extra_checks(node: Any, path: SchemaPath) -> Iterator[tuple[SchemaPath, str]]:
    if isinstance(node, dict):
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            yield (*path, "format"), f"unknown format {fmt!r} (known: {known})"
        if "$ref" in node:
            yield (*path, "$ref"), "$ref is not supported in plan schemas: write the schema inline"
        for key, child in node.items():
            if key not in ("enum", "const", "default", "examples"):
                yield from _extra_checks(child, (*path, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _extra_checks(child, (*path, i))


def compile_fast(schema: dict[str, Any]) -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema, formats=CUSTOM_FORMATS, use_default=False)


def explainer(schema: dict[str, Any]) -> Draft7Validator:
    checker = jsonschema.FormatChecker()
    for name, test in CUSTOM_FORMATS.items():
        checker.checks(name)(test)
    return Draft7Validator(schema, format_checker=checker)


def pointer(parts: Any) -> str:
    """JSON pointer (RFC 6901) of a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
