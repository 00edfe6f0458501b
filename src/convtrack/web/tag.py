"""``GET /t.js``: the browser tag (web/static/t.js), cacheable and gzipped once at start-up.

The ETag is a hash of the file, so a new release is a new tag. ``/t.js?v=<version>`` (the
ETag's hash) may be cached for a year; plain ``/t.js`` for five minutes, then revalidated
with ``If-None-Match`` (304). See docs/tag.md.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from convtrack.asgi import Receive, Scope, Send, header, only, send_bytes

SHORT = b"public, max-age=300"
LONG = b"public, max-age=31536000, immutable"


@dataclass(frozen=True)
class TagScript:
    body: bytes
    gzipped: bytes
    version: str  # first 16 hex digits of the SHA-256 of body

    @classmethod
    def load(cls) -> TagScript:
        body = (resources.files("convtrack.web") / "static" / "t.js").read_bytes()
        version = hashlib.sha256(body).hexdigest()[:16]
        return cls(body, gzip.compress(body, 9, mtime=0), version)

    def etag(self, gzipped: bool) -> bytes:
        # Each encoding is its own representation, so each has its own strong ETag.
        return f'"{self.version}-gz"'.encode() if gzipped else f'"{self.version}"'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope)
        accept = header(scope, b"accept-encoding") or b""
        zipped = b"gzip" in accept.lower()
        etag = self.etag(zipped)
        versioned = b"v=" in scope.get("query_string", b"")
        headers = [
            (b"content-type", b"application/javascript; charset=utf-8"),
            (b"cache-control", LONG if versioned else SHORT),
            (b"etag", etag),
            (b"vary", b"accept-encoding"),
            (b"x-content-type-options", b"nosniff"),
        ]
        match = header(scope, b"if-none-match")
        if match is not None and (match.strip() == b"*" or etag in match):
            await send_bytes(send, 304, b"", headers)
            return
        body = self.gzipped if zipped else self.body
        headers += [(b"content-length", str(len(body)).encode())]
        if zipped:
            headers.append((b"content-encoding", b"gzip"))
        await send_bytes(send, 200, b"" if scope["method"] == "HEAD" else body, headers)
