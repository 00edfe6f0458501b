"""Segment / RudderStack messages → ``EventIn`` (specs/tracking-protocols.md §1.2).

The mapping tables are in docs/protocols.md.

Pure functions, no I/O. A message that cannot be mapped becomes an ``Invalid`` (quarantined with
its reason); one that maps is held to the same checks as a native event afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec

from convtrack.collect.parse import Invalid, issue, validation_issue
from convtrack.config import Settings
from convtrack.events import CAMPAIGN_FIELDS, EventIn

MESSAGE_TYPES = frozenset({"track", "page", "screen", "identify", "group", "alias"})
# analytics.js short paths: the first letter of the type (specs §1.1).
SHORT_PATHS = {t[0]: t for t in MESSAGE_TYPES}
# Segment type → canonical type. group and alias say who someone is: identify events.
CANONICAL_TYPE = {"track": "track", "page": "page", "screen": "screen", "identify": "identify",
                  "group": "identify", "alias": "identify"}  # fmt: skip
# context.campaign (names from utm_*, specs §1.2) → campaign fields.
CAMPAIGN_NAMES = {"name": "utm_campaign", "source": "utm_source", "medium": "utm_medium",
                  "term": "utm_term", "content": "utm_content", "id": "utm_id"}  # fmt: skip
URL_CAMPAIGN = frozenset(CAMPAIGN_FIELDS)
# Traits that are personal identifiers (hashed by the consent gate) or that identify a person
# and have no identifier field (dropped): none of them is stored in properties.
TRAIT_IDS = {"email": "email", "phone": "phone", "firstName": "first_name",
             "first_name": "first_name", "lastName": "last_name", "last_name": "last_name",
             "gender": "gender"}  # fmt: skip
ADDRESS_IDS = {"city": "city", "state": "state", "postalCode": "zip", "postal_code": "zip",
               "country": "country"}  # fmt: skip
PERSONAL_TRAITS = frozenset({*TRAIT_IDS, "name", "address", "birthday", "username", "avatar",
                             "title", "description", "website"})  # fmt: skip
VALUE_KEYS = ("revenue", "total", "value")  # the order value, in this order of preference


ADS_SIGNALS = ("ad_storage", "ad_user_data", "ad_personalization")


@dataclass(frozen=True)
class ConsentCategories:
    """Which consent-category ids of the site's CMP stand for advertising and for analytics
    (compared without case): Segment's ``context.consent.categoryPreferences`` and
    RudderStack's ``context.consentManagement`` name categories by the CMP's own ids."""

    ads: frozenset[str]
    analytics: frozenset[str]

    @classmethod
    def parse(cls, ads: str, analytics: str) -> ConsentCategories:
        def ids(text: str) -> frozenset[str]:
            return frozenset(p.strip().casefold() for p in text.split(",") if p.strip())

        return cls(ids(ads), ids(analytics))

    def signals(self, context: dict[str, Any]) -> dict[str, str] | None:
        """The message's category choices as Consent Mode signals, or None when it names
        none of our categories. A purpose is denied when any of its categories the message
        names is denied, granted when all of them are granted (Segment and RudderStack's
        "and" rule), and left to the region when the message names none of them."""
        choices = category_choices(context)
        out: dict[str, str] = {}
        for purpose, signals in ((self.ads, ADS_SIGNALS), (self.analytics, ("analytics_storage",))):
            named = [granted for cat, granted in choices.items() if cat in purpose]
            if named:
                out |= dict.fromkeys(signals, "granted" if all(named) else "denied")
        return out or None


DEFAULT_CATEGORIES = ConsentCategories.parse(
    Settings.consent_ads_categories, Settings.consent_analytics_categories
)


def category_choices(context: dict[str, Any]) -> dict[str, bool]:
    """{category id (casefolded): granted} from Segment's ``consent.categoryPreferences``
    ({id: true|false}) and RudderStack's ``consentManagement`` (allowed and denied id lists);
    a denial wins over a grant of the same id."""
    found: dict[str, bool] = {}
    prefs = _obj(_obj(context.get("consent")).get("categoryPreferences"))
    for cat, granted in prefs.items():
        if isinstance(granted, bool):
            found[cat.casefold()] = found.get(cat.casefold(), True) and granted
    managed = _obj(context.get("consentManagement"))
    for key, granted in (("allowedConsentIds", True), ("deniedConsentIds", False)):
        ids = managed.get(key)
        for cat in ids if isinstance(ids, list) else ():
            if isinstance(cat, str | int) and not isinstance(cat, bool):
                name = str(cat).casefold()
                found[name] = found.get(name, True) and granted
    return found


def message_items(
    messages: list[Any],
    defaults: dict[str, Any],
    path_type: str | None,
    categories: ConsentCategories = DEFAULT_CATEGORIES,
) -> list[EventIn | Invalid]:
    """Each message as an ``EventIn`` or, when it cannot be one, an ``Invalid``."""
    items: list[EventIn | Invalid] = []
    for index, message in enumerate(messages):
        at = index if path_type is None else None
        items.append(to_item(message, defaults, path_type, at, categories))
    return items


def to_item(
    message: Any,
    defaults: dict[str, Any],
    path_type: str | None,
    index: int | None,
    categories: ConsentCategories = DEFAULT_CATEGORIES,
) -> EventIn | Invalid:
    if not isinstance(message, dict):
        return Invalid(issue(index, "", "a message must be a JSON object"), message)
    kind = path_type or message.get("type")
    context = {**defaults.get("context", {}), **_obj(message.get("context"))}
    if kind not in MESSAGE_TYPES:
        reason = f"type must be one of {', '.join(sorted(MESSAGE_TYPES))}; got {kind!r}"
        # Quarantined as mapped (as a track), so its identifiers are hashed like any other.
        return Invalid(
            issue(index, "/type", reason),
            {**to_event_dict("track", message, context), "type": kind},
        )
    mapped = to_event_dict(kind, message, context)
    _put(mapped, "consent", categories.signals(context))
    try:
        return msgspec.convert(mapped, EventIn, strict=False)
    except msgspec.ValidationError as exc:
        return Invalid(validation_issue(index, exc), mapped)


def to_event_dict(kind: str, msg: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """One Segment message (its ``type`` is ``kind``) as an ``EventIn``-shaped dict."""
    out: dict[str, Any] = {"type": CANONICAL_TYPE[kind]}
    _put(out, "event_id", _text(msg.get("messageId")))
    _put(out, "anonymous_id", _text(msg.get("anonymousId")))
    _put(out, "user_id", _text(msg.get("userId")))
    _put(out, "timestamp", msg.get("timestamp") or msg.get("originalTimestamp"))
    _put(out, "sent_at", msg.get("sentAt"))
    props = dict(_obj(msg.get("properties")))
    if kind == "track":
        _put(out, "event_name", msg.get("event"))
    elif kind in ("page", "screen"):
        for key in ("name", "category"):
            if msg.get(key) is not None:
                props.setdefault(key, msg[key])
    traits = {**_obj(context.get("traits")), **_obj(msg.get("traits"))}
    if kind == "group":
        props = {"segment_call": "group", "group_id": _text(msg.get("groupId"))}
        traits = _obj(context.get("traits"))  # the group's traits describe a company
        if company := _kept_traits(_obj(msg.get("traits"))):
            props["group_traits"] = company
    elif kind == "alias":
        props = {"segment_call": "alias"}
        _put(out, "anonymous_id", _text(msg.get("previousId")))
    elif kind == "identify" and (kept := _kept_traits(traits)):
        props["traits"] = kept
    _order_fields(out, props)
    _put(out, "properties", props)
    _put(out, "identifiers", identifiers(traits) | device_ids(context))
    _put(out, "context", event_context(context, props if kind == "page" else {}))
    _put(out, "campaign", campaign(context))
    return out


def identifiers(traits: dict[str, Any]) -> dict[str, Any]:
    ids = {field: traits[key] for key, field in TRAIT_IDS.items() if _scalar(traits.get(key))}
    address = _obj(traits.get("address"))
    ids |= {field: address[key] for key, field in ADDRESS_IDS.items() if _scalar(address.get(key))}
    if isinstance(birthday := traits.get("birthday"), str):
        ids["date_of_birth"] = birthday[:10]  # an ISO date or date-time
    return {k: str(v) for k, v in ids.items()}


def device_ids(context: dict[str, Any]) -> dict[str, Any]:
    """``context.device.advertisingId`` (GAID / IDFA) and ``adTrackingEnabled`` (specs §1.2)
    as identifiers: ingest hashes the id, or drops it when tracking is off or it is zero."""
    device = _obj(context.get("device"))
    given = device.get("advertisingId")
    if not (isinstance(given, str) and given.strip() and len(given) <= 64):
        return {}  # the id is dropped, not the whole message
    out: dict[str, Any] = {"advertising_id": given}
    if "adTrackingEnabled" in device:  # anything but true (e.g. "false") is not a yes
        out["ad_tracking_enabled"] = device["adTrackingEnabled"] is True
    return out


def event_context(context: dict[str, Any], page_props: dict[str, Any]) -> dict[str, Any]:
    page = _obj(context.get("page"))
    out: dict[str, Any] = {}
    for field in ("url", "referrer", "title"):
        _put(out, field, page.get(field) or page_props.get(field))
    _put(out, "user_agent", context.get("userAgent"))
    _put(out, "ip", context.get("ip"))
    _put(out, "locale", context.get("locale"))
    return out


def campaign(context: dict[str, Any]) -> dict[str, Any]:
    """``context.campaign`` by Segment's names or utm_* names, then click ids in the page URL."""
    out: dict[str, Any] = {}
    for key, value in _obj(context.get("campaign")).items():
        field = CAMPAIGN_NAMES.get(key, key)
        if field in URL_CAMPAIGN and isinstance(value, str) and value:
            out[field] = value
    page = _obj(context.get("page"))
    query = page.get("search") or (urlsplit(page["url"]).query if _str(page.get("url")) else "")
    if isinstance(query, str):
        for key, value in parse_qsl(query.lstrip("?"), max_num_fields=200):
            if key in URL_CAMPAIGN and value:
                out.setdefault(key, value)
    return out


def _order_fields(out: dict[str, Any], props: dict[str, Any]) -> None:
    """e-commerce v2 (specs §1.5): revenue, else total, else value; currency; order_id; the
    ``products[]`` as the canonical ``properties.contents`` the destinations forward."""
    value = next((props[k] for k in VALUE_KEYS if props.get(k) is not None), None)
    _put(out, "value", value)
    if isinstance(currency := props.get("currency"), str):
        out["currency"] = currency.strip().upper()
    _put(out, "order_id", _text(props.get("order_id")))
    products = props.get("products")
    if "contents" not in props and isinstance(products, list):
        _put(props, "contents", [c for p in products if (c := product_content(p))] or None)


def product_content(product: Any) -> dict[str, Any] | None:
    """One e-commerce v2 product as a ``contents`` item: ``id`` (``product_id``, else ``sku``),
    ``quantity``, ``item_price`` (``price``), ``name``, ``category``, ``brand``."""
    if not isinstance(product, dict):
        return None
    item: dict[str, Any] = {}
    _put(item, "id", _text(product.get("product_id")) or _text(product.get("sku")))
    for key, name in (("quantity", "quantity"), ("price", "item_price")):
        number = product.get(key)
        if isinstance(number, int | float) and not isinstance(number, bool):
            item[name] = number
    for key in ("name", "category", "brand"):
        if isinstance(product.get(key), str):
            _put(item, key, product[key])
    return item or None


def _kept_traits(traits: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in traits.items() if k not in PERSONAL_TRAITS}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def _text(value: Any) -> Any:
    """SDKs stringify numeric ids (specs §1.2); anything else is left for validation."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != {} and value != "":
        out[key] = value
