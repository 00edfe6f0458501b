"""Lint rules over a decoded plan: names, references, hierarchy, money, windows, mappings.

Each rule yields ``Finding``s located by plan path; ``lint.py`` turns paths into
``file:line:column``. Rules are plain functions so each can be read and tested alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import get_args

from convtrack.currencies import ISO_4217
from convtrack.events import CLICK_IDS
from convtrack.plan import hierarchy
from convtrack.plan.filters import declared
from convtrack.plan.model import (
    EVENT_TYPES,
    SOURCES,
    AdjustmentType,
    Condition,
    ConversionDef,
    Plan,
)
from convtrack.plan.problems import Finding, suggest
from convtrack.plan.schemas import event_schema, schema_errors

Rule = Callable[[Plan], Iterator[Finding]]
MAX_WINDOW_DAYS = 90
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
GA4_RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
# specs/more-conversion-apis.md §3.4: the Pinterest Conversions API's event_name values.
PINTEREST_EVENTS = (
    "add_to_cart", "checkout", "custom", "lead", "page_visit", "search", "signup",
    "view_category", "watch_video",
)  # fmt: skip
ADJUSTMENT_TYPES = get_args(AdjustmentType)


def is_adjustment(platform_event: str) -> bool:
    """True for names of the form ``refund:…``, ``cancel:…`` or ``restatement:…``."""
    head, sep, _ = platform_event.partition(":")
    return bool(sep) and head in ADJUSTMENT_TYPES


# specs/tracking-protocols.md §4c: names GA4 reserves for its own automatic events.
GA4_RESERVED = frozenset(
    [
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "firebase_campaign",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    ]
)


def duplicate_names(plan: Plan) -> Iterator[Finding]:
    owner: dict[str, str] = {}
    for i, e in enumerate(plan.events):
        for j, name in enumerate([e.name, *e.aliases]):
            path = ("events", i, "name") if j == 0 else ("events", i, "aliases", j - 1)
            if name in owner:
                what = "event" if j == 0 else "alias"
                yield Finding(path, f"duplicate {what} name {name!r} (already {owner[name]})")
            else:
                owner[name] = f"event {e.name!r}" if j == 0 else f"an alias of {e.name!r}"
    seen: set[str] = set()
    for i, c in enumerate(plan.conversions):
        if c.name in seen:
            yield Finding(("conversions", i, "name"), f"duplicate conversion name {c.name!r}")
        seen.add(c.name)


def event_fields(plan: Plan) -> Iterator[Finding]:
    for i, e in enumerate(plan.events):
        for j, src in enumerate(e.sources):
            if src not in SOURCES:
                msg = f"unknown source {src!r}{suggest(src, SOURCES)}; known: {', '.join(SOURCES)}"
                yield Finding(("events", i, "sources", j), msg)
        for j, t in enumerate(e.types):
            if t not in EVENT_TYPES:
                hint = f"{suggest(t, EVENT_TYPES)}; known: {', '.join(EVENT_TYPES)}"
                yield Finding(("events", i, "types", j), f"unknown event type {t!r}{hint}")
        for j, name in enumerate(e.required):
            if name not in e.properties:
                msg = f"required property {name!r} is not declared in properties"
                yield Finding(("events", i, "required", j), msg + suggest(name, e.properties))


def property_schemas(plan: Plan) -> Iterator[Finding]:
    for i, e in enumerate(plan.events):
        for path, message in schema_errors(event_schema(e)):
            if path[:1] == ("additionalProperties",):
                path = ("additional_properties", *path[1:])
            yield Finding(("events", i, *path), message)


def references(plan: Plan) -> Iterator[Finding]:
    events = {e.name: e for e in plan.events}
    aliases = {a: e.name for e in plan.events for a in e.aliases}
    for i, c in enumerate(plan.conversions):
        base = ("conversions", i)
        event = events.get(c.event)
        if event is None:
            hint = suggest(c.event, events)
            if c.event in aliases:
                hint = f" (an alias of {aliases[c.event]!r}: use the canonical name)"
            msg = f"conversion {c.name!r}: unknown event {c.event!r}{hint}"
            yield Finding((*base, "event"), msg)
            continue
        paths = [((*base, "where", p), p) for p in c.where]
        if c.value is not None and c.value.property is not None:
            paths.append(((*base, "value", "property"), c.value.property))
        for path, prop in paths:
            if not declared(event.properties, prop):
                msg = f"event {c.event!r} declares no property {prop!r}"
                msg += suggest(prop, event.properties)
                yield Finding(path, msg, at_key=path[2] == "where")


def conditions(plan: Plan) -> Iterator[Finding]:
    for i, c in enumerate(plan.conversions):
        for prop, cond in c.where.items():
            if isinstance(cond, Condition) and cond == Condition():
                yield Finding(("conversions", i, "where", prop), "empty condition matches anything")
        v = c.value
        if v is not None and (v.property is None) == (v.fixed is None):
            yield Finding(("conversions", i, "value"), "value needs exactly one of property, fixed")


def categories(plan: Plan) -> Iterator[Finding]:
    bad: set[str] = set()
    for i, c in enumerate(plan.conversions):
        problem = hierarchy.path_problem(c.category)
        if problem:
            bad.add(c.category)
            yield Finding(("conversions", i, "category"), problem)
    orphans = hierarchy.orphans(c.category for c in plan.conversions if c.category not in bad)
    for i, c in enumerate(plan.conversions):
        if c.category in orphans:
            parent = orphans.pop(c.category)
            msg = f"category {c.category!r} is an orphan: no conversion is in its parent {parent!r}"
            yield Finding(("conversions", i, "category"), msg)


def currencies(plan: Plan) -> Iterator[Finding]:
    items: list[tuple[tuple[str | int, ...], str | None]] = [
        (("default_currency",), plan.default_currency)
    ]
    items += [(("conversions", i, "currency"), c.currency) for i, c in enumerate(plan.conversions)]
    for path, code in items:
        if code is not None and code not in ISO_4217:
            upper = code.upper()
            hint = f" (did you mean {upper!r}?)" if upper in ISO_4217 else suggest(upper, ISO_4217)
            yield Finding(path, f"{code!r} is not an ISO 4217 currency code{hint}")


def windows(plan: Plan) -> Iterator[Finding]:
    for i, c in enumerate(plan.conversions):
        yield from _window(c, ("conversions", i, "windows"))


def _window(c: ConversionDef, base: tuple[str | int, ...]) -> Iterator[Finding]:
    w = c.windows
    if not 1 <= w.click_days <= MAX_WINDOW_DAYS:
        yield Finding((*base, "click_days"), f"click_days must be 1..{MAX_WINDOW_DAYS}")
    elif not 0 <= w.view_days <= MAX_WINDOW_DAYS:
        yield Finding((*base, "view_days"), f"view_days must be 0..{MAX_WINDOW_DAYS}")
    elif w.view_days > w.click_days:
        yield Finding((*base, "view_days"), "view_days must not exceed click_days")


def platforms(plan: Plan) -> Iterator[Finding]:
    for i, c in enumerate(plan.conversions):
        base = ("conversions", i, "platforms")
        ga4 = c.platforms.ga4
        if ga4 is not None:
            name = ga4.event
            if not GA4_NAME.match(name) or name.startswith(GA4_RESERVED_PREFIXES):
                msg = "GA4 event names: ≤ 40 letters, digits, '_', starting with a letter"
                yield Finding((*base, "ga4", "event"), f"{name!r}: {msg}, no reserved prefix")
            elif name in GA4_RESERVED:
                yield Finding((*base, "ga4", "event"), f"{name!r} is reserved by GA4")
        google = c.platforms.google
        if google is not None:
            if google.conversion_action_id is None and google.destination is None:
                yield Finding((*base, "google"), "set conversion_action_id or destination")
            action = google.conversion_action_id
            if action is not None and not action.isdigit():
                msg = f"conversion_action_id {action!r} must be the numeric conversion action id"
                yield Finding((*base, "google", "conversion_action_id"), msg)


def more_platforms(plan: Plan) -> Iterator[Finding]:
    """LinkedIn, Pinterest and every platform event name (specs/more-conversion-apis.md §3)."""
    for i, c in enumerate(plan.conversions):
        base = ("conversions", i, "platforms")
        linkedin = c.platforms.linkedin
        if linkedin is not None and not linkedin.conversion_rule_id.isdigit():
            msg = f"conversion_rule_id {linkedin.conversion_rule_id!r} must be the numeric rule id"
            yield Finding((*base, "linkedin", "conversion_rule_id"), msg)
        pinterest = c.platforms.pinterest
        if pinterest is not None and pinterest.event not in PINTEREST_EVENTS:
            hint = suggest(pinterest.event, PINTEREST_EVENTS)
            msg = f"{pinterest.event!r} is not a Pinterest event name{hint}; known: "
            yield Finding((*base, "pinterest", "event"), msg + ", ".join(PINTEREST_EVENTS))
        for key in ("meta", "ga4", "tiktok", "snapchat", "pinterest", "reddit"):
            mapping = getattr(c.platforms, key)
            if mapping is not None and is_adjustment(mapping.event):
                msg = f"{mapping.event!r}: a platform event may not start with '<type>:'"
                yield Finding((*base, key, "event"), msg + " (that marks adjustment jobs)")


def adjustments(plan: Plan) -> Iterator[Finding]:
    """Each adjustment names a canonical event and a conversion; its paths are declared."""
    events = {e.name: e for e in plan.events}
    conversions = {c.name: c for c in plan.conversions}
    seen: set[tuple[str, str, str]] = set()
    for i, a in enumerate(plan.adjustments):
        base = ("adjustments", i)
        event = events.get(a.event)
        if event is None:
            yield Finding((*base, "event"), f"unknown event {a.event!r}{suggest(a.event, events)}")
        conversion = conversions.get(a.conversion)
        if conversion is None:
            hint = suggest(a.conversion, conversions)
            yield Finding((*base, "conversion"), f"unknown conversion {a.conversion!r}{hint}")
        elif conversion.event == a.event:
            msg = f"event {a.event!r} defines the conversion {a.conversion!r}: it cannot adjust it"
            yield Finding((*base, "event"), msg)
        key = (a.event, a.conversion, a.type)
        if key in seen:
            yield Finding(base, f"duplicate adjustment {a.type} of {a.conversion!r} by {a.event!r}")
        seen.add(key)
        for prop, cond in a.where.items():
            path = (*base, "where", prop)
            if event is not None and not declared(event.properties, prop):
                msg = f"event {a.event!r} declares no property {prop!r}"
                yield Finding(path, msg + suggest(prop, event.properties), at_key=True)
            elif isinstance(cond, Condition) and cond == Condition():
                yield Finding(path, "empty condition matches anything")


def channels(plan: Plan) -> Iterator[Finding]:
    for i, rule in enumerate(plan.channels.rules):
        base = ("channels", "rules", i)
        for key in ("utm_source", "utm_medium", "utm_campaign"):
            pattern = getattr(rule, key)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    yield Finding((*base, key), f"invalid regex: {exc}")
        for j, cid in enumerate(rule.click_ids):
            if cid not in CLICK_IDS:
                msg = f"unknown click id {cid!r}{suggest(cid, CLICK_IDS)}"
                yield Finding((*base, "click_ids", j), msg)
        if rule == type(rule)(channel=rule.channel):
            yield Finding(base, f"rule for {rule.channel!r} has no condition: it matches anything")


RULES: tuple[Rule, ...] = (
    duplicate_names, event_fields, property_schemas, references, conditions,
    categories, currencies, windows, platforms, more_platforms, adjustments, channels,
)  # fmt: skip
