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
Sign-in attempts are counted per client address in the store (``FailedSignIns``; table
``signin_failures``, migration 0018), so every collector sharing it enforces one limit: an
address may try ``MAX_FAILURES`` times in ``FAILURE_WINDOW`` across all of them, then gets 429
until the window that began with its first attempt ends. An attempt is counted before its
secret is checked, in one statement, so racing requests on several collectors cannot slip past
the limit; a successful sign-in deletes the count. The store holds only the address's
HMAC-SHA256 keyed with the dashboard secret (``address_hash``; IPv6 by its /64), and deletes a
window's row once it ended. A process answers an address it saw locked out from memory.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from convtrack.asgi import Scope, header
from convtrack.errors import ConvtrackError
from convtrack.store.base import EventStore
from convtrack.store.dashboard_model import StoredSession, address_hash, session_hash

COOKIE = b"ct_session"
SCOPE_KEY = "convtrack.session"  # the request's session, once ``DashboardAuth.resolve`` ran
SESSION_SECONDS = 12 * 3600
MAX_FAILURES = 5  # failed sign-ins per IP within FAILURE_WINDOW before 429
FAILURE_WINDOW = 15 * 60
PURGE_EVERY = 60  # seconds between deletions of ended windows, per process
MAX_LOCKED_IN_MEMORY = 10_000  # locked-out addresses remembered per process (a cache)
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
    """Sign-in attempts per address, counted in the store for every collector sharing it:
    past ``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds an address is locked out until the
    window that began with its first attempt ends. Store calls: run them in a thread.

    An address this process saw locked out is answered from memory until its window ends (a
    lockout is never lifted early), so a flood of guesses costs the store nothing; ended
    windows are purged at most once per ``PURGE_EVERY`` seconds per process."""

    store: EventStore
    key: bytes  # the dashboard secret: the addresses' hashes are keyed with it
    clock: Clock = time.time
    _locked: dict[str, float] = field(default_factory=dict)  # address hash → lockout's end
    _purged: float = float("-inf")

    def attempt(self, ip: str) -> int:
        """Count an attempt from ``ip`` (before its secret is checked); the seconds until it
        may try again (0: it may try now)."""
        now, hashed = self.clock(), address_hash(ip, self.key)
        until = self._locked.get(hashed, 0.0)
        if until > now:
            return int(until - now) + 1
        purge = now - self._purged >= PURGE_EVERY
        first, attempts = self.store.note_signin_attempt(
            hashed, datetime.fromtimestamp(now, UTC), timedelta(seconds=FAILURE_WINDOW), purge
        )
        if purge:
            self._purged = now
        if attempts <= MAX_FAILURES:
            return 0
        until = first.timestamp() + FAILURE_WINDOW
        if len(self._locked) >= MAX_LOCKED_IN_MEMORY:
            self._locked = {h: t for h, t in self._locked.items() if t > now}
            if len(self._locked) >= MAX_LOCKED_IN_MEMORY:  # still full: forget the oldest
                self._locked.pop(next(iter(self._locked)))
        self._locked[hashed] = until
        return int(until - now) + 1

    def succeeded(self, ip: str) -> None:
        """``ip`` signed in: its failures are forgotten."""
        self.store.clear_signin_attempts(address_hash(ip, self.key))


@dataclass
class DashboardAuth:
    """Who may read the dashboard's pages and APIs: a signed-in browser or the admin token."""

    secret: str  # the dashboard secret (the admin token when none is set)
    admin_token: str
    store: EventStore  # where the sessions live
    clock: Clock = time.time
    failures: FailedSignIns = field(init=False)
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.failures = FailedSignIns(self.store, self.secret.encode(), self.clock)
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
