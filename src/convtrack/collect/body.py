"""Request bodies of the protocol adapters: gzip inflated with a bound, then any JSON value.

The RudderStack SDK gzips by default and the Segment SDK can be told to. The limit that
holds the bytes on the wire (``max_body_bytes``) holds the inflated body too: a small body
that inflates past it (a zip bomb) is refused with 413 after inflating at most one byte more
than the limit, never allocated in full.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec

from convtrack.asgi import Receive, Scope, header, read_body
from convtrack.collect.parse import malformed
from convtrack.errors import ConvtrackError
from convtrack.events import MAX_PROPERTIES_DEPTH

GZIP = (b"gzip", b"x-gzip")
_GZIP_WBITS = 16 + zlib.MAX_WBITS


async def read_decoded_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, inflated if it is gzip-encoded; 413 past ``limit`` bytes either way."""
    body = await read_body(receive, limit, header(scope, b"content-length"))
    encoding = (header(scope, b"content-encoding") or b"").strip().lower()
    if encoding in (b"", b"identity"):
        return body
    if encoding in GZIP:
        return gunzip(body, limit)
    raise ConvtrackError(
        "unsupported_encoding",
        f"Content-Encoding {encoding.decode('latin-1')!r} is not supported; send gzip or none.",
        415,
    )


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate gzip ``data`` (one or more members) to at most ``limit`` bytes."""
    out: list[bytes] = []
    size = 0
    rest = data
    while rest:
        inflater = zlib.decompressobj(_GZIP_WBITS)
        try:
            chunk = inflater.decompress(rest, limit - size + 1)
        except zlib.error as exc:
            raise bad_gzip(str(exc)) from None
        size += len(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise inflated_too_large(limit)
        if not inflater.eof:
            raise bad_gzip("the stream is truncated")
        out.append(chunk)
        rest = inflater.unused_data
    return b"".join(out)


def bad_gzip(reason: str) -> ConvtrackError:
    return ConvtrackError(
        "malformed_gzip",
        f"The body says Content-Encoding: gzip but does not inflate ({reason}).",
        400,
    )


def inflated_too_large(limit: int) -> ConvtrackError:
    return ConvtrackError(
        "payload_too_large",
        f"The body inflates to more than {limit} bytes; split it into smaller batches.",
        413,
    )


def decode_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise malformed(exc) from None
    except RecursionError:
        raise ConvtrackError(
            "malformed_json",
            f"The body is nested too deeply; properties may nest {MAX_PROPERTIES_DEPTH} levels.",
            400,
        ) from None
