"""Who is sending: write keys from the Authorization header or (public keys only) the URL."""

from __future__ import annotations

import base64
import binascii
import threading
import time

from convtrack.errors import ConvtrackError
from convtrack.keys import hash_key
from convtrack.store.base import EventStore, KeyRecord

MISSING = ConvtrackError(
    "missing_key",
    "No write key: send `Authorization: Bearer <key>`, HTTP Basic with the key as user, "
    "or (public keys) `?k=<key>`.",
    401,
)
INVALID = ConvtrackError(
    "invalid_key",
    "The write key is unknown or revoked; create one with `convtrack keys create`.",
    401,
)
SECRET_IN_URL = ConvtrackError(
    "secret_key_in_url",
    "Secret keys must not travel in URLs; send them in the Authorization header "
    "and rotate this one.",
    401,
)


def key_from_authorization(value: bytes | None) -> str | None:
    if not value:
        return None
    scheme, _, credentials = value.decode("latin-1").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credentials.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


class KeyRing:
    """Active keys by hash, cached in memory; reloaded when keys change.

    ``max_age`` (seconds): also reload when the cache is older, at the next lookup. A shared
    store needs it: a key created or revoked through one collector reaches the others so."""

    def __init__(self, store: EventStore, max_age: float | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._by_hash: dict[str, KeyRecord] = {}
        self._max_age = max_age
        self._loaded = 0.0
        self.reload()

    def reload(self) -> None:
        fresh = self._store.key_hashes()
        with self._lock:
            self._by_hash, self._loaded = fresh, time.monotonic()

    def lookup(self, key: str | None) -> KeyRecord | None:
        if not key:
            return None
        if self._max_age is not None and time.monotonic() - self._loaded > self._max_age:
            self.reload()
        return self._by_hash.get(hash_key(key))

    def authenticate(self, header_key: str | None, url_key: str | None) -> KeyRecord:
        if header_key:
            record = self.lookup(header_key)
            if record is None:
                raise INVALID
            return record
        if url_key:
            record = self.lookup(url_key)
            if record is None:
                raise INVALID
            if record.kind == "secret":
                raise SECRET_IN_URL
            return record
        raise MISSING
