"""Static pages: the landing page and the demo shop used in the README's first conversion.

The demo shop (``/demo`` → product → cart → checkout → thanks) is plain HTML plus the tag
snippet; its files are in ``web/static/demo/``. Links between its pages are relative, so it
also works behind a reverse proxy path such as ``/ct/``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from convtrack.asgi import Handler, Receive, Scope, Send, only, send_bytes

_COMMON = [
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]
_HTML = [
    (b"content-type", b"text/html; charset=utf-8"),
    *_COMMON,
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; img-src 'self'; "
        b"style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
]
_TYPES = {
    "html": _HTML,
    "js": [(b"content-type", b"application/javascript; charset=utf-8"), *_COMMON],
    "css": [(b"content-type", b"text/css; charset=utf-8"), *_COMMON],
}
DEMO_FILES = {
    "/demo": "index.html",
    "/demo/product": "product.html",
    "/demo/cart": "cart.html",
    "/demo/checkout": "checkout.html",
    "/demo/thanks": "thanks.html",
    "/demo/shop.js": "shop.js",
    "/demo/shop.css": "shop.css",
}


@cache
def _static(*parts: str) -> bytes:
    return resources.files("convtrack.web").joinpath("static", *parts).read_bytes()


def _file(*parts: str) -> Handler:
    headers = _TYPES[parts[-1].rsplit(".", 1)[1]]

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        await send_bytes(send, 200, _static(*parts), headers)

    return serve


def demo_routes() -> dict[str, Handler]:
    """The demo shop's paths."""
    return {path: _file("demo", name) for path, name in DEMO_FILES.items()}


home_page = _file("home.html")
