"""Write keys: public (write-only, for browsers and the pixel) and secret (for servers).

A key is shown once, at creation; only its SHA-256 hash is stored. Keys are long random
tokens, so a fast hash is enough (there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from convtrack.errors import ConvtrackError
from convtrack.store.base import EventStore, KeyRecord

PREFIXES = {"public": "ctk_pub_", "secret": "ctk_sec_"}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: EventStore, name: str, kind: str = "public") -> tuple[KeyRecord, str]:
    """Create and store a key; return its record and the plaintext (shown once)."""
    if kind not in PREFIXES:
        raise ConvtrackError("invalid_key_kind", "kind must be 'public' or 'secret'", 422)
    name = name.strip()
    if not name or len(name) > 64:
        raise ConvtrackError("invalid_key_name", "name must be 1..64 characters", 422)
    plaintext = PREFIXES[kind] + secrets.token_urlsafe(24)
    record = KeyRecord(
        key_id="key_" + secrets.token_hex(6),
        name=name,
        kind=kind,
        prefix=plaintext[:12],
        created_at=datetime.now(UTC),
    )
    store.insert_key(record, hash_key(plaintext))
    return record, plaintext


def key_view(record: KeyRecord) -> dict[str, object]:
    """What may be shown of a key: never the key or its hash."""
    return {
        "key_id": record.key_id,
        "name": record.name,
        "kind": record.kind,
        "prefix": record.prefix,
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }
