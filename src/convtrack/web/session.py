"""Dashboard sign-in: sessions kept in the store, CSRF tokens and a per-IP limit on failed sign-ins.

A session is a random id (``secrets.token_urlsafe(32)``) with its expiry and its own CSRF token.
The browser holds the id, in the ``ct_session`` cookie (``HttpOnly; SameSite=Strict; Path=/``,
``Secure`` when the request came over HTTPS); the store holds only its SHA-256
(``dashboard_sessions``, migration 0016), so a copy of the database gives no live cookie.
Every request checks the store (no cache): a session survives a restart, a session made on
one collector works on every collector sharing the store, and signing out on one ends it on
all of them at the next request. Expired sessions are deleted at each sign-in.

Every state-changing request authorised by the cookie must carry the session's CSRF token in
``X-CSRF-Token`` (or the ``csrf_token`` form field for the sign-out form); API clients send
the admin token as ``Authorization: Bearer`` instead and need no cookie and no CSRF token.
Failed sign-ins are counted per process (``FailedSignIns``): with several collectors, an
address may try ``MAX_FAILURES`` times on each.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from convtrack.asgi import Scope, header
from convtrack.errors import ConvtrackError
from convtrack.store.base import EventStore
from convtrack.store.dashboard_model import StoredSession, session_hash

COOKIE = b"ct_session"
SCOPE_KEY = "convtrack.session"  # the request's session, once ``DashboardAuth.resolve`` ran
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5  # failed sign-ins per IP within FAILURE_WINDOW before 429
FAILURE_WINDOW = 15 * 60
MAX_TRACKED_IPS = 10_000
SAFE_METHODS = ("GET", "HEAD")
Clock = Callable[[], float]

UNAUTHORISED = ConvtrackError(
    "unauthorised",
    "Sign in to the dashboard at /, or send `Authorization: Bearer <token>` with the admin "
    "token from <data_dir>/admin.token.",
    401,
)
CSRF_REFUSED = ConvtrackError(
    "csrf_token_invalid",
    "A change made with the dashboard's session cookie needs its CSRF token in the "
    "X-CSRF-Token header; reload the dashboard page to get one.",
    403,
)


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    expires_at: float


def cookie_value(scope: Scope, name: bytes = COOKIE) -> str | None:
    """One cookie's value from the request's Cookie header(s)."""
    for key, value in scope["headers"]:
        if key != b"cookie":
            continue
        for part in bytes(value).split(b";"):
            k, eq, v = part.strip().partition(b"=")
            if eq and k == name:
                return v.decode("latin-1")
    return None


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two texts (as bytes: compare_digest refuses non-ASCII)."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Sessions:
    """Dashboard sessions in the store, looked up by the hash of the cookie's id."""

    store: EventStore
    clock: Clock = time.time
    lifetime: float = SESSION_SECONDS

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def create(self) -> Session:
        """A new session (expired ones are deleted first: this is their retention)."""
        now = self._now()
        self.store.purge_expired_sessions(now)
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), now.timestamp() + self.lifetime
        )
        expires = datetime.fromtimestamp(session.expires_at, UTC)
        self.store.create_session(
            StoredSession(session_hash(session.id), session.csrf, now, expires, now)
        )
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        stored = self.store.get_session(session_hash(session_id), self._now())
        if stored is None:
            return None
        return Session(session_id, stored.csrf, stored.expires_at.timestamp())

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self.store.delete_session(session_hash(session_id))


@dataclass
class FailedSignIns:
    """A simple per-IP counter: ``MAX_FAILURES`` failures in ``FAILURE_WINDOW`` seconds lock
    that IP out until the window that began with its first failure ends."""

    clock: Clock = time.time
    _seen: dict[str, tuple[float, int]] = field(default_factory=dict)  # ip → (first, count)

    def retry_after(self, ip: str) -> int:
        """Seconds until ``ip`` may try again (0: it may try now)."""
        first, count = self._seen.get(ip, (0.0, 0))
        left = first + FAILURE_WINDOW - self.clock()
        if left <= 0:
            self._seen.pop(ip, None)
            return 0
        return int(left) + 1 if count >= MAX_FAILURES else 0

    def failed(self, ip: str) -> None:
        now = self.clock()
        first, count = self._seen.get(ip, (now, 0))
        if first + FAILURE_WINDOW <= now:
            first, count = now, 0
        if ip not in self._seen and len(self._seen) >= MAX_TRACKED_IPS:
            self._seen.pop(next(iter(self._seen)))
        self._seen[ip] = (first, count + 1)

    def succeeded(self, ip: str) -> None:
        self._seen.pop(ip, None)


@dataclass
class DashboardAuth:
    """Who may read the dashboard's pages and APIs: a signed-in browser or the admin token."""

    secret: str  # the dashboard secret (the admin token when none is set)
    admin_token: str
    store: EventStore  # where the sessions live
    clock: Clock = time.time
    failures: FailedSignIns = field(default_factory=FailedSignIns)
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.store, self.clock)

    def check_secret(self, offered: str) -> bool:
        return same(offered, self.secret) or same(offered, self.admin_token)

    async def resolve(self, scope: Scope) -> Scope:
        """The request with its session (or None) looked up, when it carries a session
        cookie. The lookup is a store call: made in a thread, it never holds up the event
        loop (and the ingest it serves) while the store is busy committing."""
        session_id = cookie_value(scope)
        if not session_id:
            return scope
        found = await asyncio.to_thread(self.sessions.get, session_id)
        return {**scope, SCOPE_KEY: found}

    def session(self, scope: Scope) -> Session | None:
        if SCOPE_KEY in scope:  # looked up by ``resolve``
            found: Session | None = scope[SCOPE_KEY]
            return found
        return self.sessions.get(cookie_value(scope))

    def bearer_ok(self, scope: Scope) -> bool:
        value = header(scope, b"authorization") or b""
        scheme, _, token = value.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(
            token.strip(), self.admin_token.encode()
        )

    def authorise(self, scope: Scope) -> None:
        """401 unless the admin token or a live session; 403 for a cookie-authorised change
        without the session's CSRF token."""
        if self.bearer_ok(scope):
            return
        session = self.session(scope)
        if session is None:
            raise UNAUTHORISED
        if scope["method"] not in SAFE_METHODS:
            offered = (header(scope, b"x-csrf-token") or b"").decode("latin-1")
            if not same(offered, session.csrf):
                raise CSRF_REFUSED

    def bridge(self, scope: Scope) -> Scope:
        """For APIs that know only the admin token (``/v1/qa/…``): a request authorised by a
        live session (and its CSRF token for a change) is passed on as if it carried the
        admin token. Anything else is passed on untouched, to be refused there."""
        if header(scope, b"authorization") is not None or self.session(scope) is None:
            return scope
        try:
            self.authorise(scope)
        except ConvtrackError:
            return scope
        bearer = (b"authorization", b"Bearer " + self.admin_token.encode())
        return {**scope, "headers": [*scope["headers"], bearer]}
