"""First-party identity on the collect path: the anonymous-id cookie and Global Privacy Control.

The collector, not the tag, sets the anonymous-id cookie (``Set-Cookie`` on ``/v1/events`` and
pixel responses). Served from the site's own domain (docs/tag.md), such a cookie keeps its
``Max-Age``; Safari caps cookies written by script (``document.cookie``) at 7 days. The cookie
is HttpOnly, so the tag learns the id from the response body and keeps a copy in localStorage.

Rules (per request from a browser key, never for secret keys):

- an event without ``anonymous_id`` gets the first one another event of the request carries,
  else the cookie's, else a new one;
- the cookie is (re)set to that same id, so it is refreshed on every visit;
- nothing is read or set when an event may not be stored with identifiers for analytics: it
  says ``consent.analytics_storage = "denied"``, or the server's consent decision
  (enrich.privacy) does not store analytics data in full, e.g. in an opt-in region.

All of it is a few string operations per request: no regular expressions on the hot path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convtrack.asgi import Scope, header
from convtrack.config import Settings
from convtrack.events import Consent, EventIn

MAX_ID = 128


def valid_id(text: str) -> bool:
    """Safe as a cookie value: 1..128 ASCII letters, digits, ``-``, ``_`` or ``.``."""
    if not 0 < len(text) <= MAX_ID or not text.isascii():
        return False
    return text.replace("-", "").replace("_", "").replace(".", "").isalnum()


def new_anonymous_id() -> str:
    # uuid4 reads os.urandom: once per new browser, so unpredictable ids cost nothing.
    return str(uuid.uuid4())


def is_https(scope: Scope, trust_proxy: bool) -> bool:
    if scope.get("scheme") == "https":
        return True
    if trust_proxy:
        proto = header(scope, b"x-forwarded-proto")
        return proto is not None and proto.split(b",")[0].strip().lower() == b"https"
    return False


@dataclass(frozen=True)
class IdentityCookie:
    name: bytes
    attributes: bytes  # everything after the value except Secure, which depends on the request
    trust_proxy: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityCookie | None:
        if not settings.anon_cookie:
            return None
        attrs = f"; Max-Age={settings.anon_cookie_days * 86400}; Path=/; SameSite=Lax; HttpOnly"
        if settings.cookie_domain:
            attrs += f"; Domain={settings.cookie_domain}"
        return cls(settings.anon_cookie.encode(), attrs.encode(), settings.trust_forwarded_for)

    def read(self, scope: Scope) -> str | None:
        raw = header(scope, b"cookie")
        if not raw:
            return None
        prefix = self.name + b"="
        for part in raw.split(b";"):
            part = part.strip()
            if part.startswith(prefix):
                value = part[len(prefix) :].decode("latin-1")
                return value if valid_id(value) else None
        return None

    def set_cookie(self, scope: Scope, value: str) -> tuple[bytes, bytes]:
        secure = b"; Secure" if is_https(scope, self.trust_proxy) else b""
        return b"set-cookie", self.name + b"=" + value.encode() + self.attributes + secure


def _says_denied(consent: Consent | None) -> bool:
    return consent is not None and consent.analytics_storage == "denied"


def settle_events(
    items: list[Any],
    cookie: str | None,
    allowed: Callable[[Consent | None], bool] | None = None,
) -> str | None:
    """Fill missing anonymous ids of ``EventIn`` items; return the id for the cookie (or None).

    ``allowed(consent)``: may this event carry the id (default: unless analytics is denied).
    """
    chosen = None
    denied = False

    def _denied(consent: Consent | None) -> bool:
        return _says_denied(consent) or (allowed is not None and not allowed(consent))

    for item in items:
        if isinstance(item, EventIn):
            if _denied(item.consent):
                denied = True
            elif chosen is None and item.anonymous_id and valid_id(item.anonymous_id):
                chosen = item.anonymous_id
    chosen = chosen or cookie or new_anonymous_id()
    transient = None
    for item in items:
        if not isinstance(item, EventIn) or item.anonymous_id is not None:
            continue
        if not _denied(item.consent):
            item.anonymous_id = chosen
        elif allowed is not None and item.user_id is None and item.identifiers is None:
            # Valid without the cookie's id: a one-request id the consent gate drops again
            # (enrich.privacy), so the event is still counted, without identifiers.
            item.anonymous_id = transient = transient or new_anonymous_id()
    return None if denied else chosen


def settle_hit(raw: dict[str, Any], cookie: str | None, allowed: bool = True) -> str | None:
    """The same for one pixel hit, as the EventIn-shaped dict of collect.pixel."""
    if not allowed or raw.get("consent", {}).get("analytics_storage") == "denied":
        return None
    given = raw.get("anonymous_id")
    if isinstance(given, str) and valid_id(given):
        return given
    chosen = cookie or new_anonymous_id()
    if given is None:
        raw["anonymous_id"] = chosen
    return chosen


def mark_gpc(items: list[Any]) -> None:
    """``Sec-GPC: 1``: events that do not state ``consent.gpc`` get ``gpc = true``."""
    for item in items:
        if isinstance(item, EventIn):
            if item.consent is None:
                item.consent = Consent(gpc=True)
            elif item.consent.gpc is None:
                item.consent.gpc = True
