"""Decoding ``POST /v1/events`` bodies and building canonical events from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from convtrack.collect.parse import Invalid, Origin, decode_body, pointer, to_event
from convtrack.errors import ConvtrackError
from convtrack.events import (
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_DEPTH,
    MAX_PROPERTIES_KEYS,
    MAX_PROPERTY_STRING,
    Event,
    EventIn,
)

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def make_origin() -> Any:
    def make(**overrides: Any) -> Origin:
        values: dict[str, Any] = {
            "source": "tag",
            "key_id": "key_test",
            "trusted": False,
            "ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (request)",
            "received_at": RECEIVED,
        }
        return Origin(**(values | overrides))

    return make


def body(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def build(e: dict[str, Any], origin: Any, batch_sent_at: Any = None, **kw: Any) -> Any:
    """Decode one event dict and run it through ``to_event`` (as the endpoint does)."""
    event_in = msgspec.convert({"anonymous_id": "anon-1", **e}, EventIn)
    options = {"default_currency": "USD", "max_future": DAY} | kw
    return to_event(None, event_in, origin, batch_sent_at, **options)


def built(e: dict[str, Any], origin: Any, batch_sent_at: Any = None, **kw: Any) -> Event:
    result = build(e, origin, batch_sent_at, **kw)
    assert isinstance(result, Event), result
    return result


# -- decode_body ------------------------------------------------------------------------


class TestDecodeBody:
    def test_valid_batch_decodes_in_one_pass(self) -> None:
        items, sent_at, is_batch = decode_body(
            body(
                {
                    "events": [{"event_name": "a", "anonymous_id": "x"}, {"type": "page"}],
                    "sent_at": "2024-05-01T11:59:00Z",
                }
            )
        )
        assert is_batch
        assert sent_at == datetime(2024, 5, 1, 11, 59, tzinfo=UTC)
        assert [type(i) for i in items] == [EventIn, EventIn]
        assert items[0].event_name == "a" and items[1].type == "page"

    def test_single_event_object(self) -> None:
        items, sent_at, is_batch = decode_body(body({"event_name": "signup", "user_id": "u1"}))
        assert not is_batch and sent_at is None
        assert len(items) == 1 and isinstance(items[0], EventIn)
        assert items[0].event_name == "signup" and items[0].user_id == "u1"

    def test_empty_object_is_a_single_event(self) -> None:
        items, _, is_batch = decode_body(b"{}")
        assert not is_batch and isinstance(items[0], EventIn)

    def test_bad_event_falls_back_per_event_and_keeps_the_good_ones(self) -> None:
        events = [
            {"event_name": "good", "anonymous_id": "a"},
            {"event_name": "bad", "context": {"url": 5}},
            {"event_name": "also_good", "anonymous_id": "b"},
        ]
        items, _, is_batch = decode_body(body({"events": events}))
        assert is_batch
        assert isinstance(items[0], EventIn) and items[0].event_name == "good"
        assert isinstance(items[2], EventIn) and items[2].event_name == "also_good"
        bad = items[1]
        assert isinstance(bad, Invalid)
        assert bad.issue["index"] == 1
        assert bad.issue["path"] == "/context/url"
        assert "str" in bad.issue["reason"]
        assert bad.raw == events[1]  # the event as sent, for quarantine

    def test_every_bad_event_gets_its_own_error(self) -> None:
        events = [{"event_name": ""}, {"currency": "usd"}, {"value": "ten"}]
        items, _, _ = decode_body(body({"events": events}))
        issues = [i.issue for i in items if isinstance(i, Invalid)]
        assert [(i["index"], i["path"]) for i in issues] == [
            (0, "/event_name"),
            (1, "/currency"),
            (2, "/value"),
        ]

    def test_non_object_in_batch_points_at_the_event(self) -> None:
        items, _, _ = decode_body(b'{"events": [1]}')
        assert isinstance(items[0], Invalid)
        assert items[0].issue["index"] == 0 and items[0].issue["path"] == ""
        assert items[0].raw == 1

    def test_unknown_top_level_field(self) -> None:
        items, _, is_batch = decode_body(body({"event_name": "x", "evnt_id": "1"}))
        assert not is_batch
        issue = items[0].issue  # type: ignore[union-attr]
        assert issue == {"path": "/evnt_id", "reason": "Object contains unknown field `evnt_id`"}

    def test_unknown_nested_field_points_at_the_field(self) -> None:
        items, _, _ = decode_body(body({"events": [{"context": {"pageurl": "x"}}]}))
        assert isinstance(items[0], Invalid)
        assert items[0].issue["path"] == "/context/pageurl"
        assert "unknown field" in items[0].issue["reason"]

    def test_bad_batch_envelope_is_422(self) -> None:
        with pytest.raises(ConvtrackError) as info:
            decode_body(b'{"events": 5}')
        assert info.value.code == "invalid_batch" and info.value.status == 422
        assert info.value.details[0]["path"] == "/events"

    @pytest.mark.parametrize("raw", [b"not json", b'{"events": [', b""])
    def test_malformed_json_is_400(self, raw: bytes) -> None:
        with pytest.raises(ConvtrackError) as info:
            decode_body(raw)
        assert info.value.code == "malformed_json" and info.value.status == 400

    @pytest.mark.parametrize(
        "raw",
        [b'{"events": [{"event_name": "\xff"}]}', b'{"bogus": 1, "event_name": "\xfe"}'],
    )
    def test_invalid_utf8_is_a_client_error(self, raw: bytes) -> None:
        with pytest.raises(ConvtrackError) as info:
            decode_body(raw)
        assert info.value.code == "invalid_utf8" and info.value.status == 400

    def test_epoch_millisecond_batch_sent_at(self) -> None:
        _, sent_at, _ = decode_body(b'{"events": [], "sent_at": 1714564800000}')
        assert sent_at == 1714564800000


@pytest.mark.parametrize(
    ("msgspec_path", "expected"),
    [(None, ""), ("", ""), (".context.url", "/context/url"), (".a[3].b", "/a/3/b"), ("[0]", "/0")],
)
def test_pointer(msgspec_path: str | None, expected: str) -> None:
    assert pointer(msgspec_path) == expected


# -- to_event: names, ids, currency -----------------------------------------------------


class TestToEvent:
    def test_canonical_fields(self, make_origin: Any) -> None:
        e = built({"event_name": "purchase", "event_id": "ev-1", "order_id": "o-9"}, make_origin())
        assert (e.event_id, e.event_name, e.type, e.source) == ("ev-1", "purchase", "track", "tag")
        assert e.received_at == RECEIVED and e.occurred_at == RECEIVED
        assert e.key_id == "key_test" and e.order_id == "o-9"
        assert e.sent_at is None and e.client_timestamp is None

    def test_missing_event_id_gets_a_fresh_one(self, make_origin: Any) -> None:
        a = built({"event_name": "x"}, make_origin())
        b = built({"event_name": "x"}, make_origin())
        assert a.event_id and b.event_id and a.event_id != b.event_id

    @pytest.mark.parametrize(("kind", "name"), [("page", "page_view"), ("screen", "screen_view")])
    def test_default_names(self, make_origin: Any, kind: str, name: str) -> None:
        assert built({"type": kind}, make_origin()).event_name == name

    def test_track_needs_a_name(self, make_origin: Any) -> None:
        problem = build({"type": "track"}, make_origin())
        assert problem == {"path": "/event_name", "reason": "required for events of type 'track'"}

    def test_someone_must_be_identified(self, make_origin: Any) -> None:
        event_in = msgspec.convert({"event_name": "x"}, EventIn)
        problem = to_event(4, event_in, make_origin(), None, default_currency="USD", max_future=DAY)
        assert isinstance(problem, dict)
        assert problem["index"] == 4 and problem["path"] == "/anonymous_id"

    def test_default_currency_applies_only_with_a_value(self, make_origin: Any) -> None:
        o = make_origin()
        assert built({"event_name": "x", "value": 9.5}, o, default_currency="EUR").currency == "EUR"
        assert built({"event_name": "x"}, o, default_currency="EUR").currency is None
        explicit = built({"event_name": "x", "value": 1, "currency": "JPY"}, o)
        assert explicit.currency == "JPY" and explicit.value == 1

    def test_currency_must_be_iso_4217(self, make_origin: Any) -> None:
        problem = build({"event_name": "x", "value": 1, "currency": "XYZ"}, make_origin())
        assert problem["path"] == "/currency" and "XYZ" in problem["reason"]

    def test_lowercase_currency_is_refused_by_the_decoder(self) -> None:
        items, _, _ = decode_body(body({"event_name": "x", "currency": "eur"}))
        assert isinstance(items[0], Invalid) and items[0].issue["path"] == "/currency"

    @pytest.mark.parametrize("value", [1e12, -1e12, 5e12])
    def test_value_bounds_fit_the_store(self, value: float) -> None:
        items, _, _ = decode_body(body({"event_name": "x", "anonymous_id": "a", "value": value}))
        assert isinstance(items[0], Invalid) and items[0].issue["path"] == "/value"

    def test_campaign_click_at_epoch_ms(self, make_origin: Any) -> None:
        e = built(
            {"event_name": "x", "campaign": {"gclid": "Cj0-AbC", "click_at": 1714564800000}},
            make_origin(),
        )
        assert e.campaign.gclid == "Cj0-AbC"
        assert e.campaign.click_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- to_event: time ---------------------------------------------------------------------


class TestTime:
    def test_skew_correction(self, make_origin: Any) -> None:
        # The client clock runs 10 minutes fast; the event happened 30 s before sending.
        sent = RECEIVED + timedelta(minutes=10)
        ts = sent - timedelta(seconds=30)
        e = built(
            {"event_name": "x", "timestamp": ts.isoformat(), "sent_at": sent.isoformat()},
            make_origin(),
        )
        assert e.occurred_at == RECEIVED - timedelta(seconds=30)
        assert e.client_timestamp == ts and e.sent_at == sent

    def test_click_time_gets_the_same_skew_correction(self, make_origin: Any) -> None:
        # The same fast clock stamped the landing click 2 minutes before the event.
        sent = RECEIVED + timedelta(minutes=10)
        ts = sent - timedelta(seconds=30)
        click = ts - timedelta(minutes=2)
        e = built(
            {
                "event_name": "x", "timestamp": ts.isoformat(), "sent_at": sent.isoformat(),
                "campaign": {"gclid": "Cj0", "click_at": click.isoformat()},
            },
            make_origin(),
        )  # fmt: skip
        assert e.campaign.click_at == e.occurred_at - timedelta(minutes=2)

    def test_batch_sent_at_is_used_when_the_event_has_none(self, make_origin: Any) -> None:
        sent = RECEIVED - timedelta(hours=2)  # slow clock
        ts = sent - timedelta(minutes=5)
        e = built({"event_name": "x", "timestamp": ts.isoformat()}, make_origin(), sent)
        assert e.occurred_at == RECEIVED - timedelta(minutes=5)
        assert e.sent_at == sent

    def test_event_sent_at_wins_over_the_batch(self, make_origin: Any) -> None:
        ts = RECEIVED - timedelta(minutes=1)
        e = built(
            {"event_name": "x", "timestamp": ts.isoformat(), "sent_at": ts.isoformat()},
            make_origin(),
            RECEIVED + DAY,
        )
        assert e.occurred_at == RECEIVED

    def test_batch_sent_at_through_decode_body(self, make_origin: Any) -> None:
        raw = body(
            {
                "sent_at": "2024-05-01T13:00:00Z",  # one hour fast
                "events": [
                    {"event_name": "x", "anonymous_id": "a", "timestamp": "2024-05-01T12:59:50Z"}
                ],
            }
        )
        items, sent_at, _ = decode_body(raw)
        assert isinstance(items[0], EventIn)
        e = to_event(0, items[0], make_origin(), sent_at, default_currency="USD", max_future=DAY)
        assert isinstance(e, Event)
        assert e.occurred_at == RECEIVED - timedelta(seconds=10)

    def test_timestamp_without_sent_at_is_taken_as_is(self, make_origin: Any) -> None:
        ts = datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
        assert (
            built({"event_name": "x", "timestamp": ts.isoformat()}, make_origin()).occurred_at == ts
        )

    def test_sent_at_without_timestamp_keeps_received(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "sent_at": "2020-01-01T00:00:00Z"}, make_origin())
        assert e.occurred_at == RECEIVED and e.client_timestamp is None

    def test_epoch_milliseconds(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "timestamp": 1714564800123}, make_origin())
        assert e.occurred_at == datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)

    def test_epoch_milliseconds_with_skew(self, make_origin: Any) -> None:
        sent_ms = int((RECEIVED + timedelta(hours=1)).timestamp() * 1000)
        e = built(
            {"event_name": "x", "timestamp": sent_ms - 2500, "sent_at": sent_ms}, make_origin()
        )
        assert e.occurred_at == RECEIVED - timedelta(milliseconds=2500)

    def test_naive_timestamp_is_utc(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "timestamp": "2024-05-01T10:00:00"}, make_origin())
        assert e.occurred_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

    def test_timestamp_with_offset_is_converted(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "timestamp": "2024-05-01T14:00:00+02:00"}, make_origin())
        assert e.occurred_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def test_future_timestamp_is_rejected(self, make_origin: Any) -> None:
        ts = RECEIVED + timedelta(hours=2)
        problem = build(
            {"event_name": "x", "timestamp": ts.isoformat()},
            make_origin(),
            max_future=timedelta(hours=1),
        )
        assert isinstance(problem, dict) and problem["path"] == "/timestamp"
        assert "future" in problem["reason"]

    def test_near_future_within_the_limit_is_accepted(self, make_origin: Any) -> None:
        ts = RECEIVED + timedelta(minutes=30)
        e = built(
            {"event_name": "x", "timestamp": ts.isoformat()},
            make_origin(),
            max_future=timedelta(hours=1),
        )
        assert e.occurred_at == ts

    def test_a_fast_clock_is_corrected_not_rejected(self, make_origin: Any) -> None:
        sent = RECEIVED + timedelta(days=3)
        e = built(
            {"event_name": "x", "timestamp": sent.isoformat(), "sent_at": sent.isoformat()},
            make_origin(),
        )
        assert e.occurred_at == RECEIVED

    def test_negative_epoch_is_refused(self) -> None:
        items, _, _ = decode_body(body({"events": [{"event_name": "x", "timestamp": -1}]}))
        assert isinstance(items[0], Invalid) and items[0].issue["path"] == "/timestamp"


# -- to_event: properties bounds --------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    """``depth`` nested objects: nested(1) == {"k": 1}."""
    node: Any = 1
    for _ in range(depth):
        node = {"k": node}
    return node


class TestProperties:
    def test_depth_limit(self, make_origin: Any) -> None:
        ok = built({"event_name": "x", "properties": nested(MAX_PROPERTIES_DEPTH)}, make_origin())
        assert ok.properties == nested(MAX_PROPERTIES_DEPTH)
        problem = build(
            {"event_name": "x", "properties": nested(MAX_PROPERTIES_DEPTH + 1)}, make_origin()
        )
        assert problem["path"] == "/properties" and "deeper" in problem["reason"]

    def test_lists_count_as_depth(self, make_origin: Any) -> None:
        props: Any = 1
        for _ in range(MAX_PROPERTIES_DEPTH):
            props = [props]
        problem = build({"event_name": "x", "properties": {"a": props}}, make_origin())
        assert problem["path"] == "/properties" and "deeper" in problem["reason"]

    def test_key_limit_counts_the_whole_tree(self, make_origin: Any) -> None:
        half = MAX_PROPERTIES_KEYS // 2
        at_limit = {f"a{i}": 1 for i in range(half - 1)} | {
            "inner": {f"b{i}": 1 for i in range(MAX_PROPERTIES_KEYS - half)}
        }
        assert built({"event_name": "x", "properties": at_limit}, make_origin()).properties
        over = at_limit | {"one_more": 1}
        problem = build({"event_name": "x", "properties": over}, make_origin())
        assert problem["path"] == "/properties" and "keys" in problem["reason"]

    def test_string_length_limit(self, make_origin: Any) -> None:
        longest = {"s": "x" * MAX_PROPERTY_STRING}
        assert built({"event_name": "x", "properties": longest}, make_origin()).properties
        too_long = {"list": ["ok", "x" * (MAX_PROPERTY_STRING + 1)]}
        problem = build({"event_name": "x", "properties": too_long}, make_origin())
        assert problem["path"] == "/properties" and "longer" in problem["reason"]

    def test_size_limit(self, make_origin: Any) -> None:
        chunk = MAX_PROPERTY_STRING - 10
        count = MAX_PROPERTIES_BYTES // chunk + 1
        props = {f"s{i}": "x" * chunk for i in range(count)}
        problem = build({"event_name": "x", "properties": props}, make_origin())
        assert problem["path"] == "/properties" and "bytes" in problem["reason"]


# -- to_event: IP and user agent --------------------------------------------------------


class TestOrigin:
    CTX = {"ip": "203.0.113.9", "user_agent": "SDK-set UA"}

    def test_untrusted_sender_cannot_set_ip_or_ua(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "context": self.CTX}, make_origin(trusted=False))
        assert e.context.ip == "198.51.100.7"
        assert e.context.user_agent == "Mozilla/5.0 (request)"

    def test_untrusted_body_ua_fills_a_missing_header(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "context": self.CTX}, make_origin(user_agent=None))
        assert e.context.user_agent == "SDK-set UA" and e.context.ip == "198.51.100.7"

    def test_trusted_sender_sets_ip_and_ua_for_the_user(self, make_origin: Any) -> None:
        e = built(
            {"event_name": "x", "context": self.CTX}, make_origin(trusted=True, source="server")
        )
        assert e.context.ip == "203.0.113.9" and e.context.user_agent == "SDK-set UA"
        assert e.source == "server"

    def test_trusted_sender_without_context_gets_the_request_values(self, make_origin: Any) -> None:
        e = built({"event_name": "x"}, make_origin(trusted=True))
        assert e.context.ip == "198.51.100.7"
        assert e.context.user_agent == "Mozilla/5.0 (request)"

    def test_trusted_ip_must_be_an_ip(self, make_origin: Any) -> None:
        problem = build(
            {"event_name": "x", "context": {"ip": "localhost"}}, make_origin(trusted=True)
        )
        assert problem["path"] == "/context/ip"

    def test_ipv6_is_accepted(self, make_origin: Any) -> None:
        e = built({"event_name": "x", "context": {"ip": "2001:db8::1"}}, make_origin(trusted=True))
        assert e.context.ip == "2001:db8::1"

    def test_other_context_is_kept(self, make_origin: Any) -> None:
        e = built(
            {"event_name": "x", "context": {"url": "https://shop.example/a", "ip": "1.2.3.4"}},
            make_origin(),
        )
        assert e.context.url == "https://shop.example/a" and e.context.ip == "198.51.100.7"
