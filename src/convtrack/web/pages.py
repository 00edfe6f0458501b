"""Static pages: the landing page and the demo shop used in the README's first conversion."""

from __future__ import annotations

from functools import cache
from importlib import resources

from convtrack.asgi import Receive, Scope, Send, send_bytes

_HTML = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; img-src 'self'; "
        b"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
]


@cache
def _static(name: str) -> bytes:
    return (resources.files("convtrack.web") / "static" / name).read_bytes()


async def demo_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send_bytes(send, 200, _static("demo.html"), _HTML)


async def home_page(scope: Scope, receive: Receive, send: Send) -> None:
    await send_bytes(send, 200, _static("home.html"), _HTML)
