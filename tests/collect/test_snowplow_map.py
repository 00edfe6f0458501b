"""Snowplow payload_data events → EventIn (collect.snowplow_map)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from convtrack.collect.parse import Invalid
from convtrack.collect.snowplow_map import decode_base64, fold_items, to_item
from convtrack.events import EventIn

BASE = {"tv": "py-1.1.0", "p": "web", "eid": "9b7c7f2e-0000-4000-8000-000000000001",
        "duid": "d-1", "dtm": "1700000000123", "stm": "1700000001000", "aid": "shop"}  # fmt: skip
SCHEMA = "iglu:com.acme/checkout_started/jsonschema/1-0-0"


def event_json(schema: str, data: Any) -> dict[str, Any]:
    """The ``ue_pr`` wrapper around one self-describing event (specs §2.2)."""
    outer = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
    return {"schema": outer, "data": {"schema": schema, "data": data}}


def b64(doc: Any, urlsafe: bool = True) -> str:
    raw = json.dumps(doc).encode()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()


def mapped(**params: str) -> EventIn:
    item = to_item({**BASE, **params}, None)
    assert isinstance(item, EventIn), item
    return item


def refused(payload: dict[str, Any]) -> Invalid:
    item = to_item(payload, 3)
    assert isinstance(item, Invalid), item
    assert item.issue["index"] == 3 and item.issue["reason"].strip()
    return item


def test_page_view_with_campaign_from_the_url() -> None:
    url = "https://shop.example/p?utm_source=news&utm_campaign=spring&gclid=G-1&x=1"
    event = mapped(e="pv", url=url, page="Shoe", refr="https://r.example/", uid="u-1", sid="s-1")
    assert (event.type, event.event_name, event.event_id) == ("page", None, BASE["eid"])
    assert (event.anonymous_id, event.user_id, event.session_id) == ("d-1", "u-1", "s-1")
    assert event.context is not None and event.campaign is not None
    assert (event.context.url, event.context.title) == (url, "Shoe")
    assert event.context.referrer == "https://r.example/"
    assert (event.campaign.utm_source, event.campaign.utm_campaign) == ("news", "spring")
    assert event.campaign.gclid == "G-1"
    assert (event.timestamp, event.sent_at) == (1700000000123, 1700000001000)
    assert event.properties == {"app_id": "shop", "platform": "web", "tracker": "py-1.1.0"}


def test_true_timestamp_wins_without_skew_correction() -> None:
    event = mapped(e="pv", ttm="1600000000000")
    assert (event.timestamp, event.sent_at) == (1600000000000, None)


def test_structured_event() -> None:
    event = mapped(e="se", se_ca="shop", se_ac="add-to-basket", se_la="sku-1", se_pr="red",
                   se_va="2.5")  # fmt: skip
    assert (event.type, event.event_name) == ("track", "add-to-basket")
    assert event.properties is not None
    props = {k: event.properties[k] for k in ("category", "action", "label", "property", "value")}
    assert props == {"category": "shop", "action": "add-to-basket", "label": "sku-1",
                     "property": "red", "value": 2.5}  # fmt: skip


@pytest.mark.parametrize("urlsafe", [True, False])
def test_self_describing_event_base64_and_plain(urlsafe: bool) -> None:
    doc = event_json(SCHEMA, {"step": 2, "items": ["a"]})
    text = b64(doc, urlsafe)
    for params in ({"ue_px": text}, {"ue_px": text.rstrip("=")}, {"ue_pr": json.dumps(doc)}):
        event = mapped(e="ue", **params)
        assert (event.type, event.event_name) == ("track", "checkout_started")
        assert event.properties is not None
        assert event.properties["step"] == 2 and event.properties["event_schema"] == SCHEMA


def test_screen_view_and_contexts() -> None:
    screen = event_json("iglu:com.snowplowanalytics.mobile/screen_view/jsonschema/1-0-0",
                        {"name": "Home", "id": "s-1"})  # fmt: skip
    entity = {"schema": "iglu:com.acme/user/jsonschema/1-0-0", "data": {"tier": "gold"}}
    ctx = {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [entity],
    }
    event = mapped(e="ue", ue_px=b64(screen), cx=b64(ctx))
    assert (event.type, event.event_name) == ("screen", "screen_view")
    assert event.properties is not None
    assert event.properties["contexts"] == [entity]
    plain = mapped(e="pv", co=json.dumps(ctx)).properties
    assert plain is not None and plain["contexts"][0]["data"] == {"tier": "gold"}


def test_the_mobile_contexts_device_ids_are_taken_out_and_the_idfa_is_an_identifier() -> None:
    idfa, idfv = "6D92078A-8246-4BA4-AE5B-76104861E7DC", "5B2C1E4A-0000-4C1D-9E2F-3A4B5C6D7E8F"
    device = {"osType": "ios", "deviceModel": "iPhone15,2", "appleIdfa": idfa, "appleIdfv": idfv}
    mobile = {"schema": "iglu:com.snowplowanalytics.snowplow/mobile_context/jsonschema/1-0-3",
              "data": device}  # fmt: skip
    ctx = {
        "schema": "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1",
        "data": [mobile],
    }
    for kind in ({"e": "pv"}, {"e": "tr", "tr_id": "o-1", "tr_tt": "9.5", "tr_ci": "Paris"}):
        event = mapped(**kind, cx=b64(ctx))
        assert event.properties is not None
        kept = event.properties["contexts"][0]["data"]
        assert kept == {"osType": "ios", "deviceModel": "iPhone15,2"}  # no device id stays
        assert event.identifiers is not None and event.identifiers.advertising_id == idfa
    order = mapped(e="tr", tr_id="o-1", tr_tt="9.5", tr_ci="Paris", cx=b64(ctx)).identifiers
    assert order is not None and order.city == "Paris"  # the order's address stays too
    android = {**mobile, "data": {"osType": "android", "androidIdfa": idfa.lower()}}
    event = mapped(e="pv", cx=b64({**ctx, "data": [android]}))
    assert event.identifiers is not None and event.identifiers.advertising_id == idfa.lower()
    plain = mapped(e="pv", cx=b64({**ctx, "data": [{**mobile, "data": {"osType": "ios"}}]}))
    assert plain.identifiers is None


def test_transaction_is_a_purchase_and_items_are_their_own_events() -> None:
    order = mapped(e="tr", tr_id="o-1", tr_tt="42.50", tr_cu="eur", tr_tx="5", tr_sh="3",
                   tr_af="web", tr_ci="Paris", tr_co="FR")  # fmt: skip
    assert (order.event_name, order.order_id, order.value, order.currency) == (
        "purchase", "o-1", 42.5, "EUR")  # fmt: skip
    assert order.properties is not None
    assert (order.properties["tax"], order.properties["shipping"]) == (5.0, 3.0)
    assert order.identifiers is not None
    assert (order.identifiers.city, order.identifiers.country) == ("Paris", "FR")
    line = mapped(e="ti", ti_id="o-1", ti_sk="sku", ti_pr="9.5", ti_qu="2", ti_nm="Shoe")
    assert line.event_name == "transaction_item" and line.order_id is None
    assert line.properties is not None
    assert (line.properties["order_id"], line.properties["quantity"]) == ("o-1", 2)


def test_items_in_the_request_of_their_order_become_its_contents() -> None:
    order = mapped(e="tr", tr_id="o-1", tr_tt="21.5")
    lines = [mapped(e="ti", ti_id="o-1", ti_sk="sku-1", ti_pr="9.5", ti_qu="2", ti_nm="Shoe"),
             mapped(e="ti", ti_id="o-1", ti_sk="sku-2", ti_pr="2.5", ti_qu="1"),
             mapped(e="ti", ti_id="o-2", ti_sk="other", ti_pr="1", ti_qu="1")]  # fmt: skip
    other = mapped(e="tr", tr_id="o-3", tr_tt="1")  # its items came in another request
    fold_items([order, *lines, other, Invalid({"path": "", "reason": "x"}, {})])
    assert order.properties is not None and order.properties["contents"] == [
        {"id": "sku-1", "quantity": 2, "item_price": 9.5, "name": "Shoe"},
        {"id": "sku-2", "quantity": 1, "item_price": 2.5},
    ]
    assert other.properties is not None and "contents" not in other.properties
    assert all(line.event_name == "transaction_item" for line in lines)  # still their own


def test_the_write_key_as_app_id_is_not_kept() -> None:
    item = to_item({**BASE, "e": "pv", "aid": "ctk_pub_x"}, None, key_in_aid=True)
    assert isinstance(item, EventIn) and item.properties is not None
    assert "app_id" not in item.properties


@pytest.mark.parametrize(
    ("params", "path", "reason"),
    [
        ({"e": "ue", "ue_px": "%%%not-base64"}, "/ue_px", "not base64"),
        ({"e": "ue", "ue_px": "abcde"}, "/ue_px", "length"),
        ({"e": "ue", "ue_px": base64.b64encode(b"{nope").decode()}, "/ue_px", "not valid JSON"),
        (
            {"e": "ue", "ue_pr": '{"schema": "x", "data": {"schema": "bad", "data": {}}}'},
            "/ue_pr",
            "is not iglu:",
        ),  # fmt: skip
        ({"e": "ue", "ue_px": "A" * 70_000}, "/ue_px", "longer than"),
        ({"e": "ue"}, "/ue_pr", "required"),
        (
            {"e": "pv", "cx": b64({"schema": "iglu:a/b/jsonschema/1-0-0", "data": {}})},
            "/cx",
            "list of entities",
        ),  # fmt: skip
        ({"e": "zz"}, "/e", "must be one of"),
        ({"e": "tr", "tr_id": "o"}, "/tr_tt", "required for a transaction"),
        ({"e": "tr", "tr_id": "o", "tr_tt": "lots"}, "/tr_tt", "not a number"),
        ({"e": "pv", "dtm": "yesterday"}, "/dtm", "not an integer"),
        ({"e": "se", "se_ca": "c"}, "/se_ac", "required"),
        ({"e": "pv", "p": "desk"}, "/p", "must be one of"),
    ],
)
def test_unreadable_events_are_invalid_with_a_clear_reason(
    params: dict[str, str], path: str, reason: str
) -> None:
    item = refused({**BASE, **params})
    assert item.issue["path"] == path and reason in item.issue["reason"], item.issue
    # Quarantined as mapped so far (identifiers hashable), the offending parameter kept apart.
    assert item.raw["anonymous_id"] == "d-1" and "snowplow" in item.raw


def test_required_parameters_and_string_values() -> None:
    assert refused({"p": "web", "e": "pv"}).issue["path"] == "/tv"
    assert refused({**BASE, "e": "pv", "vid": 3}).issue["path"] == "/vid"
    assert refused(["not", "an", "object"]).issue["path"] == ""  # type: ignore[arg-type]


def test_base64_is_decoded_tolerantly() -> None:
    assert decode_base64("x", base64.urlsafe_b64encode(b"\xfb\xff?").decode()) == b"\xfb\xff?"
    assert decode_base64("x", base64.b64encode(b"\xfb\xff?").decode().rstrip("=")) == b"\xfb\xff?"
