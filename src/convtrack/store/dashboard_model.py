"""Dashboard sessions, failed sign-ins and alerts as the store keeps them (migrations 0016
and 0018).

They live in the store so that every collector sharing it (and a restarted one) sees the same:
a session made on one node is known to the others and signing out ends it everywhere; failed
sign-ins from an address count against one limit on all nodes; an alert is raised by the one
node whose insert wins, and its webhook posted by the node holding its claim (the raiser, or
another node once the raiser's claim is older than the lease).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

# ``last_seen`` is written at most this often: reading a session stays a read.
TOUCH_AFTER = timedelta(minutes=5)
SESSION_COLUMNS = ("id_hash", "csrf", "created_at", "expires_at", "last_seen")
ALERT_COLUMNS = (
    "key", "condition", "kind", "message", "details", "raised_at", "cleared_at",
    "webhook_status", "webhook_attempts", "webhook_error", "claimed_at",
)  # fmt: skip


def cleared_suffix() -> str:
    """What a cleared alert's key gets appended, freeing the condition's key."""
    return "~" + uuid.uuid4().hex


def session_hash(session_id: str) -> str:
    """The SHA-256 (hex) of a session id: all the store ever holds of it."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def address_hash(ip: str, key: bytes = b"") -> str:
    """All the store holds of a sign-in's client address (for at most the failure window):
    its HMAC-SHA256 (hex) under ``key``, the dashboard secret, which every collector shares,
    and without which the 2**32 IPv4 addresses cannot simply be tried. An IPv6 address
    counts by its /64: one host commonly holds the whole of it."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        address = None  # an unknown peer ("?"): one shared count
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        ip = str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredSession:
    """One dashboard session row; the raw id stays in the browser's cookie."""

    id_hash: str
    csrf: str
    created_at: datetime
    expires_at: datetime
    last_seen: datetime

    def row(self) -> list[Any]:
        return [self.id_hash, self.csrf, self.created_at, self.expires_at, self.last_seen]


@dataclass(frozen=True)
class AlertRecord:
    """One raised alert. ``key`` is the condition's key while the alert is open; when the
    condition clears the row is renamed (``<condition>~<suffix>``) so a later occurrence can
    be raised under the condition's key again; ``condition`` keeps the key it had."""

    key: str
    kind: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    raised_at: datetime | None = None
    cleared_at: datetime | None = None
    webhook_status: str = "pending"  # "not_configured" | "pending" | "sent" | "failed"
    webhook_attempts: int = 0
    webhook_error: str = ""
    condition: str = ""  # the Condition.key ('' on insert: the key)
    claimed_at: datetime | None = None  # when a node last claimed its webhook (None: never)

    def row(self, details_json: str) -> list[Any]:
        return [
            self.key, self.condition or self.key, self.kind, self.message, details_json,
            self.raised_at, self.cleared_at, self.webhook_status, self.webhook_attempts,
            self.webhook_error, self.claimed_at,
        ]  # fmt: skip


def alert_from_row(row: tuple[Any, ...]) -> AlertRecord:
    """An ``ALERT_COLUMNS`` row (details as JSON text) as a record."""
    values = dict(zip(ALERT_COLUMNS, row, strict=True))
    details = values.pop("details")
    decoded = msgspec.json.decode(details) if isinstance(details, str | bytes) else details
    return AlertRecord(details=decoded or {}, **values)
