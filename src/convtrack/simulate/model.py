"""The simulator's world as data: channels, campaigns, conversion kinds and their true effects.

The generative story (docs/simulate.md) reads these tables; nothing here draws random numbers.
Every probability below is *ground truth*: it is written to the truth file so that attribution
models can be scored against the effects that really produced the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Campaign:
    """One tagged campaign of a channel (what its landing URLs carry)."""

    name: str  # utm_campaign
    source: str  # utm_source
    medium: str  # utm_medium
    weight: float = 1.0  # share of the channel's visits
    lift: float = 1.0  # multiplies the channel's conversion probability
    terms: tuple[str, ...] = ()  # utm_term choices (search keywords)
    contents: tuple[str, ...] = ()  # utm_content choices (ad / creative)


@dataclass(frozen=True)
class Channel:
    """A way visitors arrive. Probabilities are per visit (touch)."""

    name: str
    first_weight: float  # relative rate of *first* visits from this channel
    return_weight: float  # relative rate of *return* visits from this channel
    conversion_probability: float  # P(a touch from here causes a conversion)
    click_id: str | None = None  # click id parameter its ads append (specs §6)
    referrers: tuple[str, ...] = ()  # document.referrer choices; empty = none sent
    campaigns: tuple[Campaign, ...] = ()  # empty = untagged traffic
    landing: tuple[str, ...] = ("/",)


@dataclass(frozen=True)
class ConversionKind:
    name: str  # event_name of the conversion event
    weight: float  # share among conversions
    server_share: float  # P(the backend also sends it with a secret key)
    value_range: tuple[float, float] | None = None  # revenue drawn uniformly, rounded to cents
    has_order_id: bool = False
    page: str = "/thank-you"
    funnel: tuple[str, ...] = ()  # track events before the conversion, same visit


@dataclass(frozen=True)
class World:
    channels: tuple[Channel, ...]
    kinds: tuple[ConversionKind, ...]  # kinds[0] is what an account holder does instead of sign_up
    baseline_probability: float = 0.01  # P(a person converts with no causal touch)
    same_visit_share: float = 0.6  # P(a caused conversion happens in the causing visit)
    multi_device_share: float = 0.2  # people with a second device (they are logged in)
    known_share: float = 0.15  # other people with an account from the start (logged in)
    blocked_share: float = 0.12  # people whose blocker stops every browser hit
    extra_visits_mean: float = 1.5  # mean number of visits after the first
    return_gap_days: float = 2.0  # mean gap between visits
    site: str = "https://shop.example.com"
    locales: tuple[tuple[str, str, float], ...] = (
        ("en-US", "USD", 0.6), ("en-GB", "GBP", 0.15), ("de-DE", "EUR", 0.25),
    )  # fmt: skip
    pages: tuple[str, ...] = field(
        default=("/", "/products", "/products/alpine-tent", "/products/trail-shoes",
                 "/products/rain-jacket", "/blog/packing-list", "/pricing", "/about")
    )  # fmt: skip

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)

    def effects(self) -> dict[str, Any]:
        """The true model, as written to the truth file."""
        return {
            "baseline_conversion_probability": self.baseline_probability,
            "same_visit_share": self.same_visit_share,
            "multi_device_share": self.multi_device_share,
            "known_share": self.known_share,
            "blocked_share": self.blocked_share,
            "extra_visits_mean": self.extra_visits_mean,
            "return_gap_days": self.return_gap_days,
            "channels": {c.name: _channel_effects(c) for c in self.channels},
            "conversion_kinds": {k.name: _kind_effects(k, self.kinds) for k in self.kinds},
        }


def _share(weight: float, total: float) -> float:
    return round(weight / total, 6) if total else 0.0


def _channel_effects(c: Channel) -> dict[str, Any]:
    total = sum(x.weight for x in c.campaigns)
    return {
        "first_visit_weight": c.first_weight,
        "return_visit_weight": c.return_weight,
        "conversion_probability": c.conversion_probability,
        "click_id": c.click_id,
        "campaigns": {
            x.name: {
                "utm_source": x.source,
                "utm_medium": x.medium,
                "share": _share(x.weight, total),
                "conversion_probability": round(c.conversion_probability * x.lift, 6),
            }
            for x in c.campaigns
        },
    }


def _kind_effects(k: ConversionKind, kinds: tuple[ConversionKind, ...]) -> dict[str, Any]:
    return {
        "share": _share(k.weight, sum(x.weight for x in kinds)),
        "server_share": k.server_share,
        "value_range": list(k.value_range) if k.value_range else None,
    }


_SEARCH = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
_SOCIAL = ("https://t.co/", "https://l.facebook.com/", "https://www.reddit.com/",
           "https://www.linkedin.com/")  # fmt: skip
_REFERRAL = ("https://outdoorgearlab.example.org/best-tents", "https://hikingforum.example.net/t/123",
             "https://partner.example.com/deals")  # fmt: skip
_PRODUCTS = ("/products/alpine-tent", "/products/trail-shoes", "/products/rain-jacket")


def default_world() -> World:
    """The built-in shop: four ad platforms, email, organic search/social, referral, direct."""
    channels = (
        Channel("google_ads", 18, 4, 0.05, "gclid", ("https://www.google.com/",), (
            Campaign("brand_search", "google", "cpc", 1, 1.6, ("convtrack shop", "shop example")),
            Campaign("generic_search", "google", "cpc", 2, 0.8, ("hiking tent", "trail shoes")),
        ), _PRODUCTS),
        Channel("meta_ads", 16, 3, 0.03, "fbclid", ("https://l.facebook.com/",
                "https://l.instagram.com/"), (
            Campaign("prospecting_video", "facebook", "paid_social", 2, 0.7, (), ("video_a",)),
            Campaign("retargeting_dpa", "instagram", "paid_social", 1, 1.6, (), ("carousel",)),
        ), _PRODUCTS),
        Channel("tiktok_ads", 8, 1, 0.015, "ttclid", (), (
            Campaign("spring_launch", "tiktok", "paid_social", 1, 1.0, (), ("ugc_1", "ugc_2")),
        ), _PRODUCTS),
        Channel("bing_ads", 5, 1, 0.04, "msclkid", ("https://www.bing.com/",), (
            Campaign("generic_search", "bing", "cpc", 1, 1.0, ("hiking tent",)),
        ), _PRODUCTS),
        Channel("email", 3, 10, 0.06, None, (), (
            Campaign("weekly_newsletter", "newsletter", "email", 3, 1.0, (), ("hero", "footer")),
            Campaign("cart_reminder", "crm", "email", 1, 2.0),
        ), ("/", "/products")),
        Channel("organic_search", 22, 12, 0.02, None, _SEARCH, (), ("/", "/blog/packing-list")),
        Channel("organic_social", 8, 3, 0.01, None, _SOCIAL, (), ("/blog/packing-list",)),
        Channel("referral", 6, 2, 0.025, None, _REFERRAL, (), _PRODUCTS),
        Channel("direct", 14, 40, 0.005, None, (), (), ("/",)),
    )  # fmt: skip
    kinds = (
        ConversionKind("purchase", 5, 0.8, (19.0, 480.0), True, "/checkout/complete",
                       ("view_item", "add_to_cart", "begin_checkout")),
        ConversionKind("generate_lead", 2, 0.6, (25.0, 25.0), False, "/contact/thanks",
                       ("form_start",)),
        ConversionKind("sign_up", 2, 1.0, None, False, "/welcome", ()),
    )  # fmt: skip
    return World(channels, kinds)
