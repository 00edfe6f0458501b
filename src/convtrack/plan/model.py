"""The tracking plan file as typed structs: what ``plan.yaml`` may contain.

Every struct forbids unknown fields (a typo must not vanish). Field defaults here are the
documented defaults in docs/tracking-plan.md; a test checks every field is documented there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Name = Annotated[str, Meta(min_length=1, max_length=128)]
UnknownPolicy = Literal["accept", "warn", "quarantine"]
Identifier = Literal["email", "phone", "external_id", "user_id", "anonymous_id"]
Level = Literal["macro", "micro"]
Counting = Literal["every", "once_per_person", "once_per_order"]
AdjustmentType = Literal["refund", "cancel", "restatement"]
Scalar = str | int | float | bool

IDENTIFIERS: tuple[str, ...] = ("email", "phone", "external_id", "user_id", "anonymous_id")
# Where events come from (Event.source). Adapters added later register their name here.
SOURCES: tuple[str, ...] = (
    "tag", "server", "pixel", "segment", "snowplow", "app", "link", "skan", "import",
)  # fmt: skip
EVENT_TYPES: tuple[str, ...] = ("page", "screen", "track", "identify", "conversion", "impression")


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base for plan objects."""


class EventDef(Strict):
    """An event the plan knows: its properties (JSON Schema) and who may send it."""

    name: Name
    description: str = ""
    owner: str = ""
    aliases: list[Name] = []
    # Event types it may arrive as (empty: any).
    types: list[str] = []
    # Sources allowed to send it (empty: any).
    sources: list[str] = []
    # All of these must be present; an inner list means "at least one of".
    required_identifiers: list[Identifier | list[Identifier]] = []
    # Property name -> JSON Schema (draft-07) of that property's value.
    properties: dict[str, Any] = {}
    required: list[str] = []
    additional_properties: bool = True


class Condition(Strict):
    """A test on one property; several keys in one condition must all hold."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = msgspec.field(default=None, name="in")
    not_in: list[Scalar] | None = None
    exists: bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


class Value(Strict):
    """A conversion's value: a property path (dot-separated) or a fixed amount."""

    property: str | None = None
    fixed: float | None = None


class Windows(Strict):
    """Attribution windows in days: clicks, and views (0 = no view-through)."""

    click_days: int = 30
    view_days: int = 1


class MetaMapping(Strict):
    event: str


class GoogleMapping(Strict):
    """A Google Ads conversion action and/or a Data Manager destination reference."""

    conversion_action_id: str | None = None
    destination: str | None = None


class Ga4Mapping(Strict):
    event: str


class TikTokMapping(Strict):
    event: str


class LinkedInMapping(Strict):
    """A LinkedIn conversion rule (``urn:lla:llaPartnerConversion:{id}``), one per conversion."""

    conversion_rule_id: str


class SnapchatMapping(Strict):
    event: str


class PinterestMapping(Strict):
    event: str


class RedditMapping(Strict):
    event: str


class Platforms(Strict):
    meta: MetaMapping | None = None
    google: GoogleMapping | None = None
    ga4: Ga4Mapping | None = None
    tiktok: TikTokMapping | None = None
    linkedin: LinkedInMapping | None = None
    snapchat: SnapchatMapping | None = None
    pinterest: PinterestMapping | None = None
    reddit: RedditMapping | None = None


class ConversionDef(Strict):
    """A conversion: which events count, how, for how much, and what each platform calls it."""

    name: Name
    event: Name
    category: str
    description: str = ""
    level: Level = "macro"
    where: dict[str, Condition | Scalar] = {}
    value: Value | None = None
    currency: str | None = None
    counting: Counting = "every"
    windows: Windows = msgspec.field(default_factory=Windows)
    platforms: Platforms = msgspec.field(default_factory=Platforms)


class AdjustmentDef(Strict):
    """An event that refunds, cancels or restates an earlier conversion of the same order.

    Matched to the original by ``order_id``; forwarded to the destinations the conversion maps
    to that can take this type of adjustment (docs/destinations.md, "Adjustments").
    """

    event: Name
    conversion: Name
    type: AdjustmentType
    description: str = ""
    where: dict[str, Condition | Scalar] = {}


class ChannelRule(Strict):
    """First matching rule names the channel; every given condition must match."""

    channel: Name
    click_ids: list[str] = []
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_domains: list[str] = []
    direct: bool | None = None


class Channels(Strict):
    rules: list[ChannelRule] = []
    include_defaults: bool = True
    fallback: Name = "Unassigned"


class Plan(Strict):
    """The whole plan file."""

    version: Annotated[str, Meta(min_length=1, max_length=64)]
    default_currency: str | None = None
    unknown_events: UnknownPolicy = "warn"
    events: list[EventDef] = []
    conversions: list[ConversionDef] = []
    adjustments: list[AdjustmentDef] = []
    channels: Channels = msgspec.field(default_factory=Channels)
