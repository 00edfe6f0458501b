"""The generative story: people, their visits (touches) and the conversions those visits cause.

For each person, in order (docs/simulate.md has the full story):

1. The person gets a locale, one device (or two, then they are logged in on both), an account
   or not, and an ad blocker or not.
2. The first visit arrives uniformly in the window from a channel drawn by ``first_weight``;
   further visits (geometric count) follow exponential gaps, from channels drawn by
   ``return_weight``. A campaign channel tags the landing URL with UTMs and a click id.
3. Each touch independently *causes* a conversion with its channel's probability (times the
   campaign's lift). The conversion happens in that visit (``same_visit_share``) or in a
   uniformly chosen later visit. Independently, the person may convert with no cause at all
   (``baseline_probability``) in a random visit. One conversion per visit: the earliest cause
   wins. The cause is the conversion's true driver.

Nothing here builds events; ``hits`` turns a journey into what browsers and backends send.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from convtrack.simulate import ids
from convtrack.simulate.model import Campaign, Channel, ConversionKind, World

SESSION_ROOM = timedelta(hours=1)  # a visit starts at least this long before the window ends
MIN_GAP_S = 30 * 60  # visits closer than this would be one session
MAX_EXTRA_VISITS = 20
T = TypeVar("T")


@dataclass
class Device:
    anonymous_id: str
    user_agent: str
    ip: str
    mobile: bool
    logged_in: bool = False
    # The latest ad click the tag remembers: (click time, campaign fields).
    click: tuple[datetime, dict[str, Any]] | None = None


@dataclass
class Person:
    key: str  # stable label in the truth file, e.g. "p000042"
    user_id: str
    email: str
    phone: str
    locale: str
    currency: str
    has_account: bool
    blocked: bool
    devices: list[Device]


@dataclass(frozen=True)
class Touch:
    """One visit: where it came from, on which device, and its tags."""

    index: int
    at: datetime
    device: int
    channel: Channel
    campaign: Campaign | None
    session_id: str
    click_id: str | None = None
    term: str | None = None
    content: str | None = None
    landing: str = "/"
    referrer: str | None = None


@dataclass(frozen=True)
class Conversion:
    visit: int  # index of the touch (visit) it happens in
    kind: ConversionKind
    driver: int | None  # index of the touch that caused it; None = baseline (no cause)
    event_id: str
    value: float | None = None
    order_id: str | None = None


@dataclass
class Journey:
    person: Person
    touches: list[Touch]
    conversions: list[Conversion] = field(default_factory=list)


def pick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights)[0]


def make_person(rng: random.Random, world: World, number: int) -> Person:
    locale, currency, _ = pick(rng, world.locales, [w for *_, w in world.locales])
    multi = rng.random() < world.multi_device_share
    first_mobile = rng.random() < 0.55
    devices = [_device(rng, first_mobile)]
    if multi:
        devices.append(_device(rng, not first_mobile))
    return Person(
        key=f"p{number:06d}",
        user_id="u_" + ids.token(rng, 12, "0123456789abcdef"),
        email=ids.email(rng, number),
        phone=ids.phone(rng),
        locale=locale,
        currency=currency,
        has_account=multi or rng.random() < world.known_share,
        blocked=rng.random() < world.blocked_share,
        devices=devices,
    )


def _device(rng: random.Random, mobile: bool) -> Device:
    return Device(ids.new_uuid(rng), ids.user_agent(rng, mobile), ids.ip_address(rng), mobile)


def plan_touches(
    rng: random.Random, world: World, person: Person, start: datetime, end: datetime
) -> list[Touch]:
    last = end - SESSION_ROOM
    at = start + timedelta(milliseconds=round(rng.random() * (last - start).total_seconds() * 1000))
    q = world.extra_visits_mean / (1 + world.extra_visits_mean)
    extra = 0
    while extra < MAX_EXTRA_VISITS and rng.random() < q:
        extra += 1
    touches = [_touch(rng, world, person, 0, at)]
    mean_gap = world.return_gap_days * 86_400
    for index in range(1, extra + 1):
        at += timedelta(milliseconds=round(max(MIN_GAP_S, rng.expovariate(1 / mean_gap)) * 1000))
        if at > last:
            break
        touches.append(_touch(rng, world, person, index, at))
    return touches


def _touch(rng: random.Random, world: World, person: Person, index: int, at: datetime) -> Touch:
    weights = [c.first_weight if index == 0 else c.return_weight for c in world.channels]
    channel = pick(rng, world.channels, weights)
    device = 0 if index == 0 or len(person.devices) == 1 else rng.randrange(len(person.devices))
    campaign = None
    if channel.campaigns:
        campaign = pick(rng, channel.campaigns, [c.weight for c in channel.campaigns])
    return Touch(
        index=index,
        at=at,
        device=device,
        channel=channel,
        campaign=campaign,
        session_id=ids.new_uuid(rng),
        click_id=ids.click_id(rng, channel.click_id) if channel.click_id else None,
        term=rng.choice(campaign.terms) if campaign and campaign.terms else None,
        content=rng.choice(campaign.contents) if campaign and campaign.contents else None,
        landing=rng.choice(channel.landing),
        referrer=rng.choice(channel.referrers) if channel.referrers else None,
    )


def touch_probability(touch: Touch) -> float:
    lift = touch.campaign.lift if touch.campaign else 1.0
    return min(1.0, touch.channel.conversion_probability * lift)


def plan_conversions(
    rng: random.Random, world: World, person: Person, touches: list[Touch]
) -> list[Conversion]:
    causes: dict[int, int | None] = {}  # visit index -> driving touch index (None = baseline)
    for touch in touches:
        if rng.random() < touch_probability(touch):
            later = touch.index + 1 < len(touches) and rng.random() >= world.same_visit_share
            visit = rng.randrange(touch.index + 1, len(touches)) if later else touch.index
            causes.setdefault(visit, touch.index)
    if rng.random() < world.baseline_probability:
        causes.setdefault(rng.randrange(len(touches)), None)
    has_account = person.has_account
    out = []
    for visit in sorted(causes):
        kind = pick(rng, world.kinds, [k.weight for k in world.kinds])
        if kind.name == "sign_up" and has_account:
            kind = world.kinds[0]  # an account holder buys instead of signing up again
        has_account = has_account or kind.name == "sign_up"
        out.append(_conversion(rng, visit, kind, causes[visit]))
    return out


def _conversion(
    rng: random.Random, visit: int, kind: ConversionKind, driver: int | None
) -> Conversion:
    value = None
    if kind.value_range:
        value = round(rng.uniform(*kind.value_range), 2)
    return Conversion(
        visit=visit,
        kind=kind,
        driver=driver,
        event_id=ids.new_uuid(rng),
        value=value,
        order_id=ids.order_id(rng) if kind.has_order_id else None,
    )


def make_journey(
    rng: random.Random, world: World, number: int, start: datetime, end: datetime
) -> Journey:
    person = make_person(rng, world, number)
    touches = plan_touches(rng, world, person, start, end)
    return Journey(person, touches, plan_conversions(rng, world, person, touches))
