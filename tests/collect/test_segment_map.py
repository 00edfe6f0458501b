"""Segment messages → EventIn (collect.segment_map), and gzip bodies with a bound (collect.body)."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from convtrack.collect.body import gunzip
from convtrack.collect.parse import Invalid
from convtrack.collect.segment_map import (
    DEFAULT_CATEGORIES,
    ConsentCategories,
    message_items,
    to_item,
)
from convtrack.errors import ConvtrackError
from convtrack.events import EventIn


def mapped(message: dict, context: dict | None = None, path_type: str | None = None) -> EventIn:
    item = to_item(message, {"context": context or {}}, path_type, None)
    assert isinstance(item, EventIn), item
    return item


def test_order_completed_takes_revenue_currency_and_order_id() -> None:
    props = {"order_id": 1001, "revenue": "19.5", "total": 25, "currency": "usd"}
    event = mapped({"type": "track", "event": "Order Completed", "userId": 7, "properties": props})
    assert (event.event_name, event.user_id, event.order_id) == ("Order Completed", "7", "1001")
    assert (event.value, event.currency) == (19.5, "USD")
    no_revenue = mapped({"type": "track", "event": "x", "anonymousId": "a",
                         "properties": {"total": 25}})  # fmt: skip
    assert no_revenue.value == 25


def test_campaign_page_and_traits() -> None:
    context = {
        "campaign": {"name": "spring", "source": "news", "utm_id": "c-1", "bogus": "x"},
        "page": {"url": "https://a.example/?fbclid=F1&gclid=G1", "referrer": "https://r/"},
        "traits": {"email": "a@b.example", "address": {"city": "Paris", "postalCode": "75001"}},
        "userAgent": "UA", "ip": "192.0.2.1", "locale": "fr-FR",
    }  # fmt: skip
    event = mapped({"type": "track", "event": "e", "anonymousId": "a"}, context)
    assert event.campaign is not None and event.context is not None
    assert event.identifiers is not None
    assert (event.campaign.utm_campaign, event.campaign.utm_source) == ("spring", "news")
    assert (event.campaign.utm_id, event.campaign.fbclid, event.campaign.gclid) == (
        "c-1", "F1", "G1",
    )  # fmt: skip
    assert (event.context.url, event.context.referrer) == (context["page"]["url"], "https://r/")
    assert (event.context.user_agent, event.context.ip, event.context.locale) == (
        "UA", "192.0.2.1", "fr-FR",
    )  # fmt: skip
    ids = event.identifiers
    assert (ids.email, ids.city, ids.zip) == ("a@b.example", "Paris", "75001")


def test_identify_keeps_non_personal_traits_only() -> None:
    traits = {"email": "a@b.example", "name": "Jane Doe", "plan": "pro", "phone": "+33 1 23"}
    event = mapped({"type": "identify", "userId": "u1", "traits": traits})
    assert (event.type, event.event_name) == ("identify", None)
    assert event.properties == {"traits": {"plan": "pro"}}
    assert event.identifiers is not None and event.identifiers.phone == "+33 1 23"


def test_alias_group_page_and_short_paths() -> None:
    alias = mapped({"previousId": "anon-1", "userId": "u1"}, path_type="alias")
    assert (alias.type, alias.anonymous_id, alias.user_id) == ("identify", "anon-1", "u1")
    group = mapped({"type": "group", "userId": "u1", "groupId": 42, "traits": {"email": "x@y"}})
    assert group.properties == {"segment_call": "group", "group_id": "42"}
    page = mapped({"type": "page", "anonymousId": "a", "name": "Home", "properties": {
        "url": "https://a.example/", "title": "Home page"}})  # fmt: skip
    assert page.context is not None and page.context.title == "Home page"
    assert page.properties is not None and page.properties["name"] == "Home"


def test_unmappable_messages_become_invalid_items() -> None:
    items = message_items(["x", {"event": "no type"}, {"type": "track", "timestamp": "nope",
                                                       "anonymousId": "a"}], {}, None)  # fmt: skip
    assert all(isinstance(i, Invalid) for i in items)
    paths = [i.issue["path"] for i in items if isinstance(i, Invalid)]
    assert paths == ["", "/type", "/timestamp"]
    assert [i.issue["index"] for i in items if isinstance(i, Invalid)] == [0, 1, 2]


def test_gunzip_is_bounded() -> None:
    data = b"x" * 1000
    assert gunzip(gzip.compress(data), 1000) == data
    assert gunzip(gzip.compress(data[:10]) + gzip.compress(data[:5]), 100) == data[:15]
    with pytest.raises(ConvtrackError) as too_big:
        gunzip(gzip.compress(data), 999)
    assert too_big.value.status == 413
    with pytest.raises(ConvtrackError) as cut:
        gunzip(gzip.compress(data)[:-12], 5000)
    assert (cut.value.status, cut.value.code) == (400, "malformed_gzip")


ADS_DENIED = {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, None),  # no choices: the region decides
        ({"consent": {"categoryPreferences": {"Functional": True}}}, None),  # none of ours
        ({"consent": {"categoryPreferences": {"ANALYTICS": True}}},
         {"analytics_storage": "granted"}),  # ads not named: left unset
        ({"consent": {"categoryPreferences": {"advertising": False, "Marketing": True}}},
         ADS_DENIED),  # one of its categories denied: denied
        ({"consent": {"categoryPreferences": {"Advertising": "false"}}}, None),  # not a bool
        ({"consentManagement": {"allowedConsentIds": ["C0004"], "deniedConsentIds": ["C0004"]}},
         ADS_DENIED),  # a denial wins over a grant of the same id
        ({"consentManagement": {"allowedConsentIds": ["c0002", "C0004"]}},
         {**dict.fromkeys(ADS_DENIED, "granted"), "analytics_storage": "granted"}),
    ],
)  # fmt: skip
def test_cmp_categories_become_consent_signals(
    context: dict[str, Any], expected: dict[str, str] | None
) -> None:
    assert DEFAULT_CATEGORIES.signals(context) == expected


def test_a_site_names_its_own_categories() -> None:
    own = ConsentCategories.parse(" ads-cookies , ", "stats")
    assert own.signals({"consent": {"categoryPreferences": {"Advertising": False}}}) is None
    item = to_item(
        {"type": "track", "event": "x", "anonymousId": "a",
         "context": {"consent": {"categoryPreferences": {"Ads-Cookies": False, "stats": True}}}},
        {}, None, 0, own,
    )  # fmt: skip
    assert isinstance(item, EventIn) and item.consent is not None
    assert (item.consent.ad_user_data, item.consent.analytics_storage) == ("denied", "granted")


def test_order_products_become_contents() -> None:
    order = mapped(
        {"type": "track", "event": "Order Completed", "anonymousId": "a",
         "properties": {"order_id": "o1", "revenue": 30, "products": [
             {"product_id": "p1", "sku": "s1", "price": 10, "quantity": 2, "name": "Shoe",
              "brand": "Acme", "position": 1},
             {"sku": "s2", "price": 10.5, "quantity": "2"},  # a quantity that is not a number
             "not a product", {}]}},
    )  # fmt: skip
    assert order.properties is not None
    assert order.properties["contents"] == [
        {"id": "p1", "quantity": 2, "item_price": 10, "name": "Shoe", "brand": "Acme"},
        {"id": "s2", "item_price": 10.5},
    ]
    given = [{"id": "x", "quantity": 1}]  # contents sent as such win
    mine = mapped({"type": "track", "event": "Order Completed", "anonymousId": "a",
                   "properties": {"contents": given, "products": [{"sku": "s"}]}})  # fmt: skip
    assert mine.properties is not None and mine.properties["contents"] == given
