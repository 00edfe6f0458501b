"""Example payloads for one event: browser tag call, pixel URL, server API (curl).

``api_body`` is the ``POST /v1/events`` body (docs/events.md): ``value``, ``currency`` and
``order_id`` go to the top level when they fit the wire format there, every other property
under ``properties``. The pixel sends every parameter as a string (docs/pixel.md), so only
properties whose schema accepts a string can travel in its URL.
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from typing import Any
from urllib.parse import quote

from convtrack.currencies import ISO_4217

PUBLIC_KEY = "ctk_pub_YOUR_PUBLIC_KEY"
SECRET_KEY = "ctk_sec_YOUR_SECRET_KEY"
BASE_URL = "https://track.example.com"
ANONYMOUS_ID = "anon-7f3c2a"
USER_ID = "user-42"
IDENTIFIER_EXAMPLES: dict[str, str] = {
    "email": "jane@example.com",
    "phone": "+15555550123",
    "external_id": "CRM-42",
}
PIXEL_TOP = {"value": "v", "currency": "cur", "order_id": "oid", "user_id": "u"}
PIXEL_IDS = {"email": "em", "phone": "ph", "external_id": "xid"}


def example_event_id(name: str) -> str:
    """A stable UUID per event name, so regenerated docs do not change."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"convtrack-docs:{name}"))


def _liftable(key: str, value: Any) -> bool:
    if key == "value":
        return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e12
    if key == "currency":
        return (
            isinstance(value, str) and bool(re.fullmatch("[A-Z]{3}", value)) and value in ISO_4217
        )
    return key == "order_id" and isinstance(value, str) and 0 < len(value) <= 128


def api_body(name: str, kind: str, props: dict[str, Any], identifiers: list[str]) -> dict[str, Any]:
    """The ``POST /v1/events`` body for one event (with ``identifiers`` present)."""
    body: dict[str, Any] = {
        "event_id": example_event_id(name),
        "event_name": name,
        "type": kind,
        "anonymous_id": ANONYMOUS_ID,
    }
    if "user_id" in identifiers:
        body["user_id"] = USER_ID
    ids = {k: v for k, v in IDENTIFIER_EXAMPLES.items() if k in identifiers}
    if ids:
        body["identifiers"] = ids
    rest = {}
    for key, value in props.items():
        if key in ("value", "currency", "order_id") and _liftable(key, value):
            body[key] = value
        else:
            rest[key] = value
    if rest:
        body["properties"] = rest
    return body


def curl_command(body: dict[str, Any], base_url: str = BASE_URL, key: str = SECRET_KEY) -> str:
    data = json.dumps(body, indent=2, ensure_ascii=False)
    return " \\\n  ".join(
        [
            f"curl -X POST {shlex.quote(base_url.rstrip('/') + '/v1/events')}",
            f"-H {shlex.quote('Authorization: Bearer ' + key)}",
            "-H 'Content-Type: application/json'",
            f"--data {shlex.quote(data)}",
        ]
    )


def _js_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped.replace("</", "<\\/") + "'"


def _js_value(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("</", "<\\/")


def tag_snippet(body: dict[str, Any]) -> str | None:
    """The browser tag calls that send ``body`` (None when the tag cannot send its type)."""
    kind, name = body["type"], body["event_name"]
    lines = []
    traits = dict(body.get("identifiers", {}))
    if kind == "identify" or traits or "user_id" in body:
        lines.append(f"convtrack('identify', {_js_string(USER_ID)}, {_js_value(traits)});")
    if kind == "identify":
        return lines[0]
    if kind == "page":
        return "// sent automatically by the tag on page load and on SPA navigations"
    props = dict(body.get("properties", {}))
    if kind == "conversion":
        top = {k: body[k] for k in ("value", "currency", "order_id") if k in body}
        props = {**top, "event_id": body["event_id"], **props}
    elif kind != "track":
        return None
    else:
        props.update({k: body[k] for k in ("value", "currency", "order_id") if k in body})
    lines.append(f"convtrack({_js_string(kind)}, {_js_string(name)}, {_js_value(props)});")
    return "\n".join(lines)


def accepts_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return schema is True
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return all(isinstance(v, str) for v in values)
    if kind is None:
        return not {"properties", "items"} & schema.keys()
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def pixel_url(
    body: dict[str, Any],
    schemas: dict[str, Any],
    base_url: str = BASE_URL,
    key: str = PUBLIC_KEY,
) -> tuple[str, list[str]]:
    """The pixel URL for ``body`` and the properties it had to leave out."""
    params: list[tuple[str, str]] = [("k", key), ("e", body["event_name"])]
    if body["type"] != "track":
        params.append(("t", body["type"]))
    params += [("id", body["event_id"]), ("a", body["anonymous_id"])]
    params += [(short, _text(body[k])) for k, short in PIXEL_TOP.items() if k in body]
    ids = body.get("identifiers", {})
    params += [(short, ids[k]) for k, short in PIXEL_IDS.items() if k in ids]
    left_out = []
    for name, value in body.get("properties", {}).items():
        if isinstance(value, str) and accepts_string(schemas.get(name, True)):
            params.append((f"p.{name}", value))
        else:
            left_out.append(name)
    query = "&".join(f"{quote(n, safe='.')}={quote(v, safe='')}" for n, v in params)
    return f"{base_url.rstrip('/')}/p.gif?{query}", left_out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
