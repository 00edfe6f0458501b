"""Small raw-ASGI helpers shared by the HTTP stages (no framework on the hot paths)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from convtrack.errors import ConvtrackError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

_encoder = msgspec.json.Encoder()
JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def read_body(receive: Receive, limit: int, declared: bytes | None = None) -> bytes:
    """Read the whole body, refusing (413) as soon as it passes ``limit`` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConvtrackError("client_disconnected", "The client went away.", 400)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


JSON_MEDIA = (b"application/json", b"text/plain")  # text/plain: what sendBeacon can send
# The operator APIs also take curl's default for ``-d`` (a JSON body is still required).
OPERATOR_MEDIA = (*JSON_MEDIA, b"application/x-www-form-urlencoded")
# Refused before the body is read: the client may still be sending it, so the connection
# cannot carry another request.
CLOSE = {"connection": "close"}


async def read_json(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body of a JSON API request, checked before the handler decodes it to its type:
    415 for a content type that is not JSON (``OPERATOR_MEDIA``; none at all is taken as
    JSON), 413 over
    ``limit``, 400 ``invalid_utf8`` or ``malformed_json`` when it is not JSON at all (so a
    truncated body is never reported as a field problem). An empty body passes."""
    media = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    if media and media not in OPERATOR_MEDIA and not media.endswith(b"+json"):
        message = "Send the body as application/json."
        raise ConvtrackError("unsupported_media_type", message, 415, headers=dict(CLOSE))
    raw = await read_body(receive, limit, header(scope, b"content-length"))
    if raw:
        try:
            msgspec.json.decode(raw)
        except UnicodeDecodeError:
            raise ConvtrackError("invalid_utf8", "The body is not valid UTF-8 JSON.") from None
        except (msgspec.DecodeError, RecursionError) as exc:
            message = f"The body is not valid JSON ({exc})."
            raise ConvtrackError("malformed_json", message) from None
    return raw


def only(scope: Scope, allowed: str = "GET, HEAD") -> None:
    """405 ``method_not_allowed`` (with ``Allow``) unless the method is one of ``allowed``."""
    if scope["method"] not in allowed.split(", "):
        message = f"Use {allowed} for {scope['path']}."
        headers = {"allow": allowed, **CLOSE}
        raise ConvtrackError("method_not_allowed", message, 405, headers=headers)


def too_large(limit: int) -> ConvtrackError:
    # The rest of the body stays unread, so the server drops the connection after answering;
    # saying so keeps the client from sending its next request on it (and seeing a reset).
    return ConvtrackError(
        "payload_too_large",
        f"The body is larger than {limit} bytes; split it into smaller batches.",
        413,
        headers={"connection": "close"},
    )


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, obj: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send_bytes(send, status, _encoder.encode(obj), JSON_HEADERS + (extra or []))


async def send_error(send: Send, error: ConvtrackError) -> None:
    extra = [(k.encode(), v.encode()) for k, v in error.headers.items()]
    await send_json(send, error.status, error.body(), extra)
