"""Small helpers shared by the destinations: JSON bodies, hash checks, URLs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from convtrack.forward.model import ForwardEvent

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(value: str | None) -> bool:
    """True for 64 lowercase hex characters, the only hash form we send."""
    return bool(value) and _SHA256.match(value or "") is not None


def hashed(event: ForwardEvent, field: str) -> str | None:
    """The field's value if it is a SHA-256 hex digest; a raw-looking value is never sent."""
    value = event.user_data.get(field)
    return value if value is not None and is_sha256(value) else None


def plain(event: ForwardEvent, field: str) -> str | None:
    """The field's value for platforms that need it unhashed; a digest cannot be used."""
    value = event.user_data.get(field)
    if value is None or is_sha256(value) or not value.strip():
        return None
    return value.strip()


def compact(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None, an empty list or an empty dict."""
    return {k: v for k, v in obj.items() if v is not None and v != [] and v != {}}


def json_body(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def with_query(url: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{url}?{query}" if query else url


def money(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
