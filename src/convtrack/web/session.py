"""Dashboard sign-in: server-side sessions, CSRF tokens and a per-IP limit on failed sign-ins.

A session is a random id (``secrets.token_urlsafe(32)``) kept in this process's memory with its
expiry and its own CSRF token; the browser holds only the id, in the ``ct_session`` cookie
(``HttpOnly; SameSite=Strict; Path=/``, ``Secure`` when the request came over HTTPS).
``convtrack serve`` runs one worker (one writer per DuckDB file), so one process sees every
request; a restart signs everyone out, and signing out deletes the session at once.

Every state-changing request authorised by the cookie must carry the session's CSRF token in
``X-CSRF-Token`` (or the ``csrf_token`` form field for the sign-out form); API clients send
the admin token as ``Authorization: Bearer`` instead and need no cookie and no CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from convtrack.asgi import Scope, header
from convtrack.errors import ConvtrackError

COOKIE = b"ct_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000  # the oldest go first past this: memory stays bounded
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
    """Live sessions by id; expired ones are dropped when met or when room is needed."""

    clock: Clock = time.time
    lifetime: float = SESSION_SECONDS
    _live: dict[str, Session] = field(default_factory=dict)

    def create(self) -> Session:
        if len(self._live) >= MAX_SESSIONS:
            self._prune()
        while len(self._live) >= MAX_SESSIONS:
            self._live.pop(next(iter(self._live)))
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock() + self.lifetime
        )
        self._live[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._live.get(session_id)
        if session is not None and session.expires_at <= self.clock():
            del self._live[session_id]
            return None
        return session

    def delete(self, session_id: str | None) -> None:
        if session_id:
            self._live.pop(session_id, None)

    def _prune(self) -> None:
        now = self.clock()
        for sid in [s.id for s in self._live.values() if s.expires_at <= now]:
            del self._live[sid]


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
    sessions: Sessions = field(default_factory=Sessions)
    failures: FailedSignIns = field(default_factory=FailedSignIns)

    def check_secret(self, offered: str) -> bool:
        return same(offered, self.secret) or same(offered, self.admin_token)

    def session(self, scope: Scope) -> Session | None:
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
