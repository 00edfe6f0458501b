"""``POST /v1/privacy/erase`` and ``GET /v1/privacy/export``: a person's rights, server to server.

Authorised by a secret write key (``Authorization: Bearer ctk_sec_…``, as ``/v1/events`` takes
it) or the admin token; a public (browser) key is refused with 403. The body (erase) or query
(export) names one identifier: ``email``, ``phone``, ``external_id`` (in clear or already
SHA-256 hashed), ``advertising_id`` (a GAID / IDFA, or its hash), ``user_id`` or
``anonymous_id``. See docs/privacy.md.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import msgspec

from convtrack.asgi import Receive, Scope, Send, header, only, read_json, send_json
from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.errors import ConvtrackError
from convtrack.privacy.erase import erase
from convtrack.privacy.export import export
from convtrack.privacy.person import OPTIONS, request_identifier
from convtrack.store.base import EventStore

BODY_LIMIT = 65_536
UNAUTHORISED = ConvtrackError(
    "unauthorised",
    "Privacy requests need `Authorization: Bearer <key>` with a secret write key "
    "(`convtrack keys create --secret`) or the admin token.",
    401,
)
FORBIDDEN = ConvtrackError(
    "forbidden",
    "A public (browser) key cannot erase or export people; use a secret write key.",
    403,
)


class EraseIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    user_id: str | None = None
    anonymous_id: str | None = None
    advertising_id: str | None = None
    dry_run: bool = False


def authorise(scope: Scope, keys: KeyRing, token: str) -> None:
    """Pass a secret write key or the admin token; 401 otherwise, 403 for a public key."""
    key = key_from_authorization(header(scope, b"authorization"))
    if key is None:
        raise UNAUTHORISED
    if hmac.compare_digest(key.encode(), token.encode()):
        return
    record = keys.lookup(key)
    if record is None:
        raise UNAUTHORISED
    if record.kind != "secret":
        raise FORBIDDEN


@dataclass
class PrivacyApi:
    store: EventStore
    keys: KeyRing
    token: str

    async def erase(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "POST")
        authorise(scope, self.keys, self.token)
        raw = await read_json(scope, receive, BODY_LIMIT)
        try:
            body = msgspec.json.decode(raw, type=EraseIn)
        except msgspec.ValidationError as exc:  # first: it is a subclass of DecodeError
            raise ConvtrackError("invalid_request", str(exc), 422) from None
        except msgspec.DecodeError as exc:
            raise ConvtrackError("malformed_json", f"The body is not valid JSON ({exc}).") from None
        option, value = request_identifier(msgspec.structs.asdict(body))
        done = await asyncio.to_thread(erase, self.store, option, value, dry_run=body.dry_run)
        await send_json(send, 200, done)

    async def export(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET")
        authorise(scope, self.keys, self.token)
        query = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
        fields: dict[str, Any] = {k: v[-1] for k, v in query.items()}
        unknown = sorted(set(fields) - set(OPTIONS))
        if unknown:
            raise ConvtrackError("invalid_request", f"Unknown parameter(s): {unknown}.", 422)
        option, value = request_identifier(fields)
        await send_json(send, 200, await asyncio.to_thread(export, self.store, option, value))

    def routes(self) -> dict[str, Any]:
        return {"/v1/privacy/erase": self.erase, "/v1/privacy/export": self.export}
