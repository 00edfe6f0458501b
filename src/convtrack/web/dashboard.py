"""The dashboard's pages, sign-in and sign-out (see docs/dashboard.md).

- ``GET /``: the overview when signed in, else the sign-in page (which is also the landing page)
- ``GET /dashboard/{overview,attribution,health,debugger}``: a page, or 303 to the sign-in page
- ``POST /signin`` (form: ``secret``, ``next``) → session cookie and 303 to the page
- ``POST /signout`` (form ``csrf_token`` or header ``X-CSRF-Token``) → session gone, 303 to /
- ``GET /v1/dashboard/session``: the session's CSRF token and expiry, for the page's scripts
- ``GET /static/dashboard/…``: the scripts, the stylesheet and the vendored Chart.js (code only,
  no data: served without a session)

Every page is one HTML shell; plain JavaScript modules fetch the JSON APIs and draw the charts.
Nothing from data is ever put in HTML: the scripts set ``textContent`` and chart labels.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from urllib.parse import parse_qs

from convtrack.asgi import (
    Handler,
    Receive,
    Scope,
    Send,
    header,
    only,
    read_body,
    send_bytes,
    send_json,
)
from convtrack.collect.events_api import client_ip
from convtrack.collect.identity import is_https
from convtrack.web.session import (
    COOKIE,
    CSRF_REFUSED,
    SESSION_SECONDS,
    UNAUTHORISED,
    DashboardAuth,
    cookie_value,
    same,
)

PAGES = ("overview", "attribution", "health", "debugger")
PAGE_PATHS = {f"/dashboard/{p}" for p in PAGES}
STATIC = {
    "app.js": "application/javascript; charset=utf-8",
    "api.js": "application/javascript; charset=utf-8",
    "dom.js": "application/javascript; charset=utf-8",
    "charts.js": "application/javascript; charset=utf-8",
    "overview.js": "application/javascript; charset=utf-8",
    "attribution.js": "application/javascript; charset=utf-8",
    "health.js": "application/javascript; charset=utf-8",
    "health-metrics.js": "application/javascript; charset=utf-8",
    "health-watch.js": "application/javascript; charset=utf-8",
    "debugger.js": "application/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "chart.umd.min.js": "application/javascript; charset=utf-8",
}
STATIC_PREFIX = "/static/dashboard/"
# The requests a dashboard session may authorise: its pages and the APIs they call. Only
# these have their session cookie looked up (a store call), never ingest.
SESSION_PREFIXES = ("/dashboard/", "/v1/dashboard/", "/v1/qa/", "/v1/reports/", "/v1/debug/")


def uses_session(path: str) -> bool:
    return path in ("/", "/signout") or path.startswith(SESSION_PREFIXES)


FORM_LIMIT = 4096
_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    b"frame-ancestors 'none'"
)
_HTML = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", _CSP),
]
MESSAGES = {
    "wrong": "That secret is not right.",
    "locked": "Too many failed sign-ins from your address; try again later.",
    "signed_out": "You are signed out.",
}


@cache
def _static(name: str) -> bytes:
    return resources.files("convtrack.web").joinpath("static", "dashboard", name).read_bytes()


def signin_html(next_page: str = "", message: str = "") -> bytes:
    """The sign-in page; ``next_page`` is one of ``PAGE_PATHS`` (or empty), ``message`` one of
    ``MESSAGES``' texts: neither comes from the request as typed, and both are escaped."""
    text = _static("signin.html").decode()
    text = text.replace("{{next}}", html.escape(next_page, quote=True))
    shown = f'<p class="message" role="alert">{html.escape(message)}</p>' if message else ""
    return text.replace("{{message}}", shown).encode()


def _safe_next(value: str | None) -> str:
    return value if value in PAGE_PATHS else ""


def _redirect(
    location: str, extra: list[tuple[bytes, bytes]] | None = None
) -> list[tuple[bytes, bytes]]:
    return [
        (b"location", location.encode()),
        (b"cache-control", b"no-store"),
        (b"content-type", b"text/plain; charset=utf-8"),
        *(extra or []),
    ]


@dataclass
class Dashboard:
    auth: DashboardAuth
    trust_forwarded_for: bool = False

    def routes(self) -> dict[str, Handler]:
        statics = {STATIC_PREFIX + name: self._static_file(name) for name in STATIC}
        return {
            "/": self._home,
            **{path: self._page for path in PAGE_PATHS},
            "/signin": self._signin,
            "/signout": self._signout,
            "/v1/dashboard/session": self._session,
            **statics,
        }

    def _cookie(self, scope: Scope, value: str, max_age: int) -> tuple[bytes, bytes]:
        secure = b"; Secure" if is_https(scope, self.trust_forwarded_for) else b""
        attributes = b"; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + str(max_age).encode()
        return b"set-cookie", COOKIE + b"=" + value.encode() + attributes + secure

    async def _home(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        if self.auth.session(scope) is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            next_page = _safe_next((query.get("next") or [""])[0])
            message = MESSAGES["signed_out"] if "signed_out" in query else ""
            await send_bytes(send, 200, signin_html(next_page, message), _HTML)
            return
        await send_bytes(send, 200, _static("dashboard.html"), _HTML)

    async def _page(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        if self.auth.session(scope) is None:
            await send_bytes(send, 303, b"", _redirect("/?next=" + scope["path"]))
            return
        await send_bytes(send, 200, _static("dashboard.html"), _HTML)

    async def _form(self, scope: Scope, receive: Receive) -> dict[str, str]:
        raw = await read_body(receive, FORM_LIMIT, header(scope, b"content-length"))
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in form.items()}

    async def _signin(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "POST")
        ip = client_ip(scope, self.trust_forwarded_for) or "?"
        form = await self._form(scope, receive)
        next_page = _safe_next(form.get("next"))
        wait = await asyncio.to_thread(self.auth.failures.attempt, ip)  # counted in the store
        if wait:
            headers = [*_HTML, (b"retry-after", str(wait).encode())]
            await send_bytes(send, 429, signin_html(next_page, MESSAGES["locked"]), headers)
            return
        if not self.auth.check_secret(form.get("secret", "")):
            await send_bytes(send, 401, signin_html(next_page, MESSAGES["wrong"]), _HTML)
            return
        await asyncio.to_thread(self.auth.failures.succeeded, ip)
        await asyncio.to_thread(self.auth.sessions.delete, cookie_value(scope))  # a new id
        session = await asyncio.to_thread(self.auth.sessions.create)  # (store calls: a thread)
        cookie = self._cookie(scope, session.id, SESSION_SECONDS)
        await send_bytes(send, 303, b"", _redirect(next_page or "/", [cookie]))

    async def _signout(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "POST")
        session = self.auth.session(scope)
        if session is None:
            raise UNAUTHORISED
        offered = (header(scope, b"x-csrf-token") or b"").decode("latin-1")
        if not offered:
            offered = (await self._form(scope, receive)).get("csrf_token", "")
        if not same(offered, session.csrf):
            raise CSRF_REFUSED
        await asyncio.to_thread(self.auth.sessions.delete, session.id)
        cookie = self._cookie(scope, "", 0)
        await send_bytes(send, 303, b"", _redirect("/?signed_out=1", [cookie]))

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope, "GET, HEAD")
        session = self.auth.session(scope)
        if session is None:
            raise UNAUTHORISED
        await send_json(send, 200, {"csrf_token": session.csrf, "expires_at": session.expires_at})

    def _static_file(self, name: str) -> Handler:
        headers = [
            (b"content-type", STATIC[name].encode()),
            (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"),
        ]

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            only(scope, "GET, HEAD")
            await send_bytes(send, 200, _static(name), headers)

        return serve
