"""Who is sending: write keys from the Authorization header or the URL."""

from __future__ import annotations

import base64

import pytest

from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.errors import ConvtrackError
from convtrack.keys import create_key, hash_key
from convtrack.store import EventStore


def basic(user: str, password: str = "") -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (b"Bearer ctk_sec_abc", "ctk_sec_abc"),
        (b"bearer   ctk_sec_abc  ", "ctk_sec_abc"),
        (b"BEARER ctk_sec_abc", "ctk_sec_abc"),
        (basic("ctk_pub_abc"), "ctk_pub_abc"),  # Segment style: key as user, empty password
        (basic("ctk_pub_abc", "ignored"), "ctk_pub_abc"),
        (b"basic " + base64.b64encode(b"ctk_pub_abc"), "ctk_pub_abc"),
    ],
)
def test_key_from_authorization(value: bytes, key: str) -> None:
    assert key_from_authorization(value) == key


@pytest.mark.parametrize(
    "value",
    [
        None, b"", b"Bearer", b"Bearer ", b"Token abc", b"ctk_sec_abc", b"Basic",
        b"Basic !!!not-base64!!!", b"Basic " + base64.b64encode(b"\xff\xfe:x"),
        b"Basic " + base64.b64encode(b":password-only"), b"Digest username=x",
    ],
)  # fmt: skip
def test_garbage_authorization_gives_no_key(value: bytes | None) -> None:
    assert key_from_authorization(value) is None


@pytest.fixture
def keys(key_store: EventStore) -> dict[str, str]:
    _, public = create_key(key_store, "web", "public")
    _, secret = create_key(key_store, "backend", "secret")
    return {"public": public, "secret": secret}


class TestKeyRing:
    def test_header_key(self, key_store: EventStore, keys: dict[str, str]) -> None:
        ring = KeyRing(key_store)
        for kind, key in keys.items():
            record = ring.authenticate(key, None)
            assert record.kind == kind

    def test_public_key_in_url(self, key_store: EventStore, keys: dict[str, str]) -> None:
        assert KeyRing(key_store).authenticate(None, keys["public"]).name == "web"

    def test_secret_key_in_url_is_refused(
        self, key_store: EventStore, keys: dict[str, str]
    ) -> None:
        with pytest.raises(ConvtrackError) as info:
            KeyRing(key_store).authenticate(None, keys["secret"])
        assert info.value.code == "secret_key_in_url" and info.value.status == 401

    def test_missing_key(self, key_store: EventStore, keys: dict[str, str]) -> None:
        with pytest.raises(ConvtrackError) as info:
            KeyRing(key_store).authenticate(None, None)
        assert info.value.code == "missing_key" and info.value.status == 401

    @pytest.mark.parametrize("where", ["header", "url"])
    def test_unknown_key(self, key_store: EventStore, keys: dict[str, str], where: str) -> None:
        args = ("ctk_pub_nope", None) if where == "header" else (None, "ctk_pub_nope")
        with pytest.raises(ConvtrackError) as info:
            KeyRing(key_store).authenticate(*args)
        assert info.value.code == "invalid_key" and info.value.status == 401

    def test_a_bad_header_key_is_not_rescued_by_the_url(
        self, key_store: EventStore, keys: dict[str, str]
    ) -> None:
        with pytest.raises(ConvtrackError) as info:
            KeyRing(key_store).authenticate("ctk_sec_wrong", keys["public"])
        assert info.value.code == "invalid_key"

    def test_the_ring_holds_hashes_not_keys(
        self, key_store: EventStore, keys: dict[str, str]
    ) -> None:
        ring = KeyRing(key_store)
        assert ring.lookup(hash_key(keys["public"])) is None
        assert ring.lookup(keys["public"]) is not None
        assert ring.lookup(None) is None and ring.lookup("") is None

    def test_reload_sees_new_and_revoked_keys(
        self, key_store: EventStore, keys: dict[str, str]
    ) -> None:
        ring = KeyRing(key_store)
        _, fresh = create_key(key_store, "late", "public")
        key_store.revoke_key("web")
        ring.reload()
        assert ring.authenticate(fresh, None).name == "late"
        with pytest.raises(ConvtrackError) as info:
            ring.authenticate(keys["public"], None)
        assert info.value.code == "invalid_key"
        assert ring.authenticate(keys["secret"], None).name == "backend"
