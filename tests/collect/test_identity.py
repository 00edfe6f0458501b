"""First-party identity on ``POST /v1/events`` and the pixel: the server-set anonymous-id
cookie, ids filled from it, ``Sec-GPC``, and the tag's fbc/fbp fields reaching the store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from convtrack.collect.auth import KeyRing
from convtrack.collect.events_api import EventsEndpoint
from convtrack.collect.identity import valid_id
from convtrack.collect.pixel import PixelEndpoint
from convtrack.config import Settings
from convtrack.keys import create_key
from convtrack.plan.active import ActivePlan
from convtrack.store import EventStore
from convtrack.store.writer import GroupCommitWriter

Handler = EventsEndpoint | PixelEndpoint


@pytest.fixture
def writer(key_store: EventStore) -> Iterator[GroupCommitWriter]:
    w = GroupCommitWriter(key_store, interval=0)
    w.start()
    yield w
    w.stop()


@pytest.fixture
def public_key(key_store: EventStore) -> str:
    return create_key(key_store, "web", "public")[1]


def make(
    kind: type[Handler], key_store: EventStore, writer: GroupCommitWriter, **settings: Any
) -> Any:
    settings = {"default_region": "US", **settings}  # no opt-in consent law: ids kept
    return kind(Settings(**settings), KeyRing(key_store), writer, ActivePlan.load(""))


def call(
    handler: Handler,
    query: str,
    headers: dict[str, str] | None = None,
    body: Any = None,
    scheme: str = "http",
) -> tuple[int, list[tuple[str, str]], bytes]:
    scope = {
        "type": "http", "method": "POST" if body is not None else "GET", "scheme": scheme,
        "path": "/", "query_string": query.encode(), "client": ("192.0.2.10", 5000),
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        + [(b"content-type", b"text/plain")],
    }  # fmt: skip
    data = json.dumps(body).encode() if body is not None else b""
    messages = [{"type": "http.request", "body": data, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(handler(scope, receive, send))
    start, body_msg = sent
    headers_out = [(k.decode(), v.decode()) for k, v in start["headers"]]
    return start["status"], headers_out, body_msg["body"]


def cookies(headers: list[tuple[str, str]]) -> list[str]:
    return [v for k, v in headers if k == "set-cookie"]


def stored(store: EventStore, column: str) -> list[Any]:
    return [r[0] for r in store.query(f"SELECT {column} FROM events ORDER BY event_id").rows]  # noqa: S608


def page(**fields: Any) -> dict[str, Any]:
    return {"type": "page", "context": {"url": "https://shop.example/"}, **fields}


class TestEventsApi:
    def test_a_new_browser_gets_a_cookie_and_its_id_back(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        status, headers, body = call(api, f"k={public_key}", body={"events": [page(), page()]})
        assert status == 200
        (cookie,) = cookies(headers)
        name_value, *attrs = cookie.split("; ")
        name, aid = name_value.split("=")
        assert name == "ct_aid" and valid_id(aid)
        assert set(attrs) == {"Max-Age=34128000", "Path=/", "SameSite=Lax", "HttpOnly"}
        assert json.loads(body)["anonymous_id"] == aid
        assert stored(key_store, "anonymous_id") == [aid, aid]

    def test_events_without_an_id_get_the_cookies(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        _, headers, body = call(
            api, f"k={public_key}", {"cookie": "x=1; ct_aid=abc-123; y=2"}, page()
        )
        assert json.loads(body)["anonymous_id"] == "abc-123"
        assert cookies(headers)[0].startswith("ct_aid=abc-123; Max-Age=")  # refreshed
        assert stored(key_store, "anonymous_id") == ["abc-123"]

    def test_an_id_the_event_carries_is_kept_and_becomes_the_cookie(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        """The tag sends an id only when it learned it (from the server or a linker)."""
        api = make(EventsEndpoint, key_store, writer)
        batch = {"events": [page(), page(anonymous_id="linked-1")]}
        _, headers, body = call(api, f"k={public_key}", {"cookie": "ct_aid=old"}, batch)
        assert json.loads(body)["anonymous_id"] == "linked-1"
        assert cookies(headers)[0].startswith("ct_aid=linked-1;")
        assert stored(key_store, "anonymous_id") == ["linked-1", "linked-1"]

    def test_a_forged_cookie_value_is_ignored(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        _, _, body = call(api, f"k={public_key}", {"cookie": "ct_aid=a b<script>"}, page())
        assert valid_id(json.loads(body)["anonymous_id"])
        assert json.loads(body)["anonymous_id"] != "a b<script>"

    def test_analytics_storage_denied_sets_and_reads_nothing(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        event = page(anonymous_id="per-page-1", consent={"analytics_storage": "denied"})
        _, headers, body = call(api, f"k={public_key}", {"cookie": "ct_aid=abc"}, event)
        assert cookies(headers) == [] and "anonymous_id" not in json.loads(body)
        assert stored(key_store, "anonymous_id") == ["per-page-1"]

    @pytest.mark.parametrize(
        ("scheme", "proto", "trust", "secure"),
        [
            ("https", None, False, True),
            ("http", "https", True, True),
            ("http", "https", False, False),
            ("http", None, True, False),
        ],
    )
    def test_secure_on_https(
        self,
        key_store: EventStore,
        writer: GroupCommitWriter,
        public_key: str,
        scheme: str,
        proto: str | None,
        trust: bool,
        secure: bool,
    ) -> None:
        api = make(EventsEndpoint, key_store, writer, trust_forwarded_for=trust)
        headers = {"x-forwarded-proto": proto} if proto else {}
        _, out, _ = call(api, f"k={public_key}", headers, page(), scheme=scheme)
        assert cookies(out)[0].endswith("; Secure") is secure

    def test_cookie_settings(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(
            EventsEndpoint, key_store, writer,
            anon_cookie="vid", anon_cookie_days=30, cookie_domain="shop.example",
        )  # fmt: skip
        _, out, _ = call(api, f"k={public_key}", {"cookie": "vid=v-1"}, page())
        assert cookies(out) == [
            "vid=v-1; Max-Age=2592000; Path=/; SameSite=Lax; HttpOnly; Domain=shop.example"
        ]
        off = make(EventsEndpoint, key_store, writer, anon_cookie="")
        _, out, body = call(off, f"k={public_key}", {}, page(user_id="u1"))
        assert cookies(out) == [] and "anonymous_id" not in json.loads(body)

    def test_server_requests_get_no_cookie(
        self, key_store: EventStore, writer: GroupCommitWriter
    ) -> None:
        secret = create_key(key_store, "backend", "secret")[1]
        api = make(EventsEndpoint, key_store, writer)
        headers = {"authorization": f"Bearer {secret}", "cookie": "ct_aid=abc"}
        _, out, _ = call(api, "", headers, page(user_id="u1"))
        assert cookies(out) == []
        assert stored(key_store, "anonymous_id") == [None]

    @pytest.mark.parametrize(
        ("honor", "consent", "expected"),
        [
            (True, None, {"gpc": True}),
            (True, {"ad_storage": "granted"}, {"ad_storage": "granted", "gpc": True}),
            (True, {"gpc": False}, {"gpc": False}),
            (False, None, None),
        ],
    )
    def test_sec_gpc_marks_consent(
        self,
        key_store: EventStore,
        writer: GroupCommitWriter,
        public_key: str,
        honor: bool,
        consent: dict[str, Any] | None,
        expected: dict[str, Any] | None,
    ) -> None:
        api = make(EventsEndpoint, key_store, writer, honor_gpc=honor)
        event = page(**({"consent": consent} if consent else {}))
        assert call(api, f"k={public_key}", {"sec-gpc": "1"}, event)[0] == 200
        (got,) = stored(key_store, "consent")
        assert (json.loads(got) if got else None) == expected

    def test_fbc_and_fbp_are_stored(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        campaign = {
            "fbclid": "AbC", "fbc": "fb.1.1700000000000.AbC",
            "fbp": "fb.1.1690000000000.123456789", "click_at": 1700000000000,
        }  # fmt: skip
        assert call(api, f"k={public_key}", {}, page(campaign=campaign))[0] == 200
        assert stored(key_store, "fbc") == ["fb.1.1700000000000.AbC"]
        assert stored(key_store, "fbp") == ["fb.1.1690000000000.123456789"]

    def test_fbc_is_bounded(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        api = make(EventsEndpoint, key_store, writer)
        status, _, body = call(api, f"k={public_key}", {}, page(campaign={"fbc": "x" * 641}))
        assert status == 422 and json.loads(body)["error"]["details"][0]["path"] == "/campaign/fbc"


class TestPixel:
    def test_sets_the_cookie_and_fills_the_id(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        pixel = make(PixelEndpoint, key_store, writer)
        status, headers, body = call(
            pixel, f"k={public_key}&e=signup&fbc=fb.1.1.x", {"cookie": "ct_aid=pix-1"}
        )
        assert status == 200 and body.startswith(b"GIF89a")
        assert cookies(headers)[0].startswith("ct_aid=pix-1; Max-Age=")
        writer.stop()
        assert stored(key_store, "anonymous_id") == ["pix-1"]
        assert stored(key_store, "fbc") == ["fb.1.1.x"]

    def test_a_new_browser_and_gpc(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        pixel = make(PixelEndpoint, key_store, writer)
        _, headers, _ = call(pixel, f"k={public_key}&e=signup", {"sec-gpc": "1"})
        aid = cookies(headers)[0].split(";")[0].split("=")[1]
        writer.stop()
        assert stored(key_store, "anonymous_id") == [aid]
        assert json.loads(stored(key_store, "consent")[0]) == {"gpc": True}

    def test_no_cookie_without_a_valid_key_or_with_analytics_denied(
        self, key_store: EventStore, writer: GroupCommitWriter, public_key: str
    ) -> None:
        pixel = make(PixelEndpoint, key_store, writer)
        assert cookies(call(pixel, "k=ctk_pub_nope&e=x")[1]) == []
        denied = f"k={public_key}&e=x&a=p1&analytics_storage=denied"
        assert cookies(call(pixel, denied, {"cookie": "ct_aid=c1"})[1]) == []


def test_settings_are_checked() -> None:
    from convtrack.errors import ConfigError

    for bad in ({"anon_cookie_days": 401}, {"anon_cookie": "a;b"}, {"cookie_domain": "a b"}):
        with pytest.raises(ConfigError):
            dataclasses.replace(Settings(), **bad).validate()
