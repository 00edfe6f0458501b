"""The pixel's short query names → an EventIn-shaped dict → a canonical event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from convtrack.collect.parse import Origin, to_event
from convtrack.collect.pixel import MAX_PARAMS, hit_to_dict, parse_query
from convtrack.events import Event, EventIn


def test_top_level_short_names() -> None:
    params = [
        ("e", "purchase"), ("t", "conversion"), ("id", "ev-1"), ("ts", "1714564800000"),
        ("a", "anon"), ("u", "user"), ("s", "sess"), ("v", "19.99"), ("cur", "EUR"),
        ("oid", "o-1"),
    ]  # fmt: skip
    assert hit_to_dict(params, None) == {
        "event_name": "purchase", "type": "conversion", "event_id": "ev-1",
        "timestamp": "1714564800000", "anonymous_id": "anon", "user_id": "user",
        "session_id": "sess", "value": "19.99", "currency": "EUR", "order_id": "o-1",
    }  # fmt: skip


def test_grouped_names() -> None:
    params = [
        ("url", "https://shop.example/thanks"), ("ref", "https://google.com/"), ("ti", "Thanks"),
        ("lc", "en-GB"), ("em", "A@B.example"), ("ph", "+1 555 0100"), ("xid", "crm-7"),
        ("ad_storage", "granted"), ("ad_user_data", "denied"), ("gclid", "Cj0-XyZ"),
        ("utm_source", "google"), ("ScCid", "sc-1"), ("ca", "1714564000000"),
    ]  # fmt: skip
    out = hit_to_dict(params, None)
    assert out["context"] == {
        "url": "https://shop.example/thanks", "referrer": "https://google.com/",
        "title": "Thanks", "locale": "en-GB",
    }  # fmt: skip
    assert out["identifiers"] == {
        "email": "A@B.example",
        "phone": "+1 555 0100",
        "external_id": "crm-7",
    }
    assert out["consent"] == {"ad_storage": "granted", "ad_user_data": "denied"}
    assert out["campaign"] == {
        "gclid": "Cj0-XyZ",
        "utm_source": "google",
        "ScCid": "sc-1",
        "click_at": "1714564000000",
    }
    assert "properties" not in out


def test_key_is_not_an_event_field() -> None:
    out = hit_to_dict([("k", "ctk_pub_x"), ("e", "x")], None)
    assert "k" not in out and "ctk_pub_x" not in str(out)


def test_properties_with_and_without_prefix() -> None:
    out = hit_to_dict([("e", "x"), ("p.plan", "pro"), ("color", "red"), ("p.", "odd")], None)
    assert out["properties"] == {"plan": "pro", "color": "red", "p.": "odd"}


def test_referer_is_the_page_url_unless_given() -> None:
    assert hit_to_dict([], "https://a.example/")["context"] == {"url": "https://a.example/"}
    out = hit_to_dict([("url", "https://b.example/")], "https://a.example/")
    assert out["context"]["url"] == "https://b.example/"


@pytest.mark.parametrize(
    ("params", "kind"),
    [([], "page"), ([("e", "signup")], "track"), ([("e", "x"), ("t", "conversion")], "conversion")],
)
def test_type_default(params: list[tuple[str, str]], kind: str) -> None:
    assert hit_to_dict(params, None)["type"] == kind


def test_hit_becomes_a_canonical_event() -> None:
    received = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    params = [
        ("e", "purchase"),
        ("a", "anon"),
        ("v", "19.99"),
        ("ts", "1714564790000"),
        ("gclid", "Cj0"),
        ("ca", "1714564000000"),
        ("ad_storage", "granted"),
    ]
    event_in = msgspec.convert(hit_to_dict(params, "https://shop.example/"), EventIn, strict=False)
    origin = Origin("pixel", "key_p", False, "192.0.2.1", "UA", received)
    e = to_event(None, event_in, origin, None, default_currency="GBP", max_future=timedelta(days=1))
    assert isinstance(e, Event)
    assert e.value == 19.99 and e.currency == "GBP" and e.source == "pixel"
    assert e.occurred_at == received - timedelta(seconds=10)
    assert e.campaign.click_at == datetime(2024, 5, 1, 11, 46, 40, tzinfo=UTC)
    assert e.consent is not None and e.consent.ad_storage == "granted"
    assert e.context.url == "https://shop.example/" and e.context.ip == "192.0.2.1"


def test_parse_query_unquotes_and_skips_blanks() -> None:
    raw = b"e=add%20to%20cart&a=x+y&empty=&flag&p.na%6De=caf%C3%A9&k=ctk_pub_1"
    assert parse_query(raw) == [
        ("e", "add to cart"), ("a", "x y"), ("p.name", "caf\u00e9"), ("k", "ctk_pub_1"),
    ]  # fmt: skip


def test_parse_query_keeps_literal_text_and_survives_bad_bytes() -> None:
    assert parse_query(b"u=a/b:c@d") == [("u", "a/b:c@d")]
    assert parse_query(b"e=%ff&a=\xfe") == [("e", "\ufffd"), ("a", "\ufffd")]


def test_parse_query_is_bounded() -> None:
    raw = "&".join(f"p{i}=v" for i in range(MAX_PARAMS * 3)).encode()
    pairs = parse_query(raw)
    assert len(pairs) == MAX_PARAMS and pairs[-1] == (f"p{MAX_PARAMS - 1}", "v")
