"""A journey → the events browsers and backends send (``EventIn``, the wire format).

Per visit: a landing ``page`` (UTMs and click id in the URL and in ``campaign``), a few more
pages, an ``identify`` when the person logs in on that device, and for a converting visit the
funnel ``track`` events and the ``conversion``. The browser tag remembers the latest ad click
per device and attaches it to conversions (specs/tracking-protocols.md §6). A backend sends
some conversions too (same ``event_id``, source ``server``, with identifiers, IP and user
agent). A person with a blocker sends no browser hit at all: such deliveries are marked
``blocked`` and never sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from convtrack.events import Campaign, Context, EventIn, Identifiers
from convtrack.simulate import ids
from convtrack.simulate.journeys import Conversion, Device, Journey, Person, Touch
from convtrack.simulate.model import World

Source = Literal["tag", "server"]
CLICK_MEMORY = timedelta(days=90)  # how long the tag keeps a click id


@dataclass(frozen=True)
class Delivery:
    """One copy of one event, as it would arrive at the collector."""

    arrival: datetime
    source: Source
    event: EventIn
    blocked: bool = False  # a browser hit the person's blocker stopped: never sent
    ip: str | None = None  # the address it comes from (the device, for browser copies)


def title(path: str) -> str:
    words = path.strip("/").replace("-", " ").replace("/", " · ") or "home"
    return f"{words.capitalize()} — Example Shop"


def landing_campaign(touch: Touch) -> Campaign | None:
    c = touch.campaign
    if c is None:
        return None
    fields: dict[str, Any] = {
        "utm_source": c.source,
        "utm_medium": c.medium,
        "utm_campaign": c.name,
        "utm_term": touch.term,
        "utm_content": touch.content,
        "click_at": touch.at,
    }
    if touch.click_id and touch.channel.click_id:
        fields[touch.channel.click_id] = touch.click_id
        if touch.channel.click_id == "gclid":
            fields["gad_source"] = "1"
    return Campaign(**fields)


def landing_url(world: World, touch: Touch) -> str:
    campaign = landing_campaign(touch)
    if campaign is None:
        return world.site + touch.landing
    params = {k: v for k, v in _fields(campaign).items() if k != "click_at"}
    return f"{world.site}{touch.landing}?{urlencode(params)}"


def _fields(campaign: Campaign) -> dict[str, Any]:
    return {f: getattr(campaign, f) for f in campaign.__struct_fields__ if getattr(campaign, f)}


class VisitWriter:
    """Builds the deliveries of one journey, visit by visit."""

    def __init__(self, rng: random.Random, world: World, journey: Journey) -> None:
        self.rng = rng
        self.world = world
        self.person: Person = journey.person
        self.out: list[Delivery] = []

    def hit(self, device: Device, touch: Touch, at: datetime, **fields: Any) -> EventIn:
        event = EventIn(
            event_id=ids.new_uuid(self.rng),
            timestamp=at,
            anonymous_id=device.anonymous_id,
            user_id=self.person.user_id if device.logged_in else None,
            session_id=touch.session_id,
            **fields,
        )
        self.send_tag(device, event, at)
        return event

    def send_tag(self, device: Device, event: EventIn, at: datetime) -> None:
        arrival = ids.after(at, self.rng, 0.05, 1.5)
        self.out.append(Delivery(arrival, "tag", event, self.person.blocked, device.ip))

    def context(self, device: Device, url: str, referrer: str | None) -> Context:
        return Context(
            url=url,
            referrer=referrer,
            title=title(urlsplit(url).path),
            user_agent=device.user_agent,
            locale=self.person.locale,
        )

    def visit(self, touch: Touch, conversion: Conversion | None) -> None:
        device = self.person.devices[touch.device]
        url = landing_url(self.world, touch)
        campaign = landing_campaign(touch)
        if campaign is not None and touch.click_id:
            device.click = (touch.at, _fields(campaign))
        at = touch.at
        self.hit(
            device,
            touch,
            at,
            type="page",
            campaign=campaign,
            context=self.context(device, url, touch.referrer),
        )
        if self.person.has_account and not device.logged_in:
            device.logged_in = True
            at = ids.after(at, self.rng, 5, 40)
            self.hit(device, touch, at, type="identify", context=self.context(device, url, None))
        for _ in range(self.rng.randint(0, 3)):
            at = ids.after(at, self.rng, 10, 90)
            page = self.world.site + self.rng.choice(self.world.pages)
            self.hit(device, touch, at, type="page", context=self.context(device, page, url))
            url = page
        if conversion is not None:
            self.convert(device, touch, conversion, at, url)

    def convert(
        self, device: Device, touch: Touch, conv: Conversion, at: datetime, url: str
    ) -> None:
        kind = conv.kind
        for name in kind.funnel:
            at = ids.after(at, self.rng, 15, 60)
            self.hit(device, touch, at, event_name=name, context=self.context(device, url, None))
        at = ids.after(at, self.rng, 20, 120)
        if kind.name == "sign_up":
            device.logged_in = self.person.has_account = True
        event = EventIn(
            event_name=kind.name,
            type="conversion",
            event_id=conv.event_id,
            timestamp=at,
            anonymous_id=device.anonymous_id,
            user_id=self.person.user_id if device.logged_in else None,
            session_id=touch.session_id,
            context=self.context(device, self.world.site + kind.page, url),
            campaign=self.remembered_click(device, at),
            value=conv.value,
            currency=self.person.currency if conv.value is not None else None,
            order_id=conv.order_id,
            properties=self.properties(conv),
        )
        self.send_tag(device, event, at)
        if self.rng.random() < kind.server_share:
            self.send_server(device, event, at)

    def remembered_click(self, device: Device, at: datetime) -> Campaign | None:
        if device.click is None or at - device.click[0] > CLICK_MEMORY:
            return None
        return Campaign(**device.click[1])

    def properties(self, conv: Conversion) -> dict[str, Any] | None:
        if conv.kind.name == "purchase" and conv.value is not None:
            sku = self.rng.choice(("alpine-tent", "trail-shoes", "rain-jacket"))
            return {"items": [{"sku": sku, "quantity": 1, "price": conv.value}]}
        if conv.kind.name == "generate_lead":
            return {"lead_type": "contact"}
        return None

    def send_server(self, device: Device, event: EventIn, at: datetime) -> None:
        ctx = event.context or Context()
        server = EventIn(
            event_name=event.event_name,
            type=event.type,
            event_id=event.event_id,
            timestamp=at,
            anonymous_id=event.anonymous_id,
            user_id=self.person.user_id if self.person.has_account else None,
            context=Context(
                url=ctx.url, user_agent=device.user_agent, ip=device.ip, locale=self.person.locale
            ),
            campaign=event.campaign,
            identifiers=Identifiers(email=self.person.email, phone=self.person.phone),
            value=event.value,
            currency=event.currency,
            order_id=event.order_id,
            properties=event.properties,
        )
        self.out.append(Delivery(ids.after(at, self.rng, 1, 30), "server", server))


def journey_deliveries(rng: random.Random, world: World, journey: Journey) -> list[Delivery]:
    writer = VisitWriter(rng, world, journey)
    by_visit = {c.visit: c for c in journey.conversions}
    for touch in journey.touches:
        writer.visit(touch, by_visit.get(touch.index))
    return writer.out
