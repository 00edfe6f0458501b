"""Channel grouping: ordered rules from click ids, UTM values and referrers to a channel.

Like GA4, a rule's ``utm_source`` regex sees the *effective* source — ``utm_source``, else
the referrer's host, else ``(direct)`` — and ``utm_medium`` the effective medium —
``utm_medium``, else ``referral`` when there is a referrer, else ``(none)``. Regexes are
full matches, case-insensitive. The first rule whose every condition holds wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from convtrack.plan.model import ChannelRule, Channels

_PAID = r"(.*cp.*|ppc|retargeting|paid.*)"
_SEARCH = r".*(google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|naver|search)\..*|google|bing"
_SOCIAL = (
    r".*(facebook|instagram|linkedin|twitter|x|t|tiktok|pinterest|reddit|snapchat|youtube"
    r"|threads|messenger|whatsapp|quora|tumblr|vk)\.(com|co|net|org)|"
    r"(facebook|fb|ig|instagram|linkedin|twitter|x|tiktok|pinterest|reddit|snapchat|meta)"
)
_VIDEO = r".*(youtube|vimeo|twitch|dailymotion)\..*|youtube|vimeo"

# Close to GA4's default channel grouping (the order matters: paid before organic).
DEFAULT_RULES: tuple[ChannelRule, ...] = (
    ChannelRule("Direct", direct=True),
    ChannelRule(
        "Paid Social",
        click_ids=["fbclid", "ttclid", "li_fat_id", "twclid", "ScCid", "epik", "rdt_cid"],
    ),  # fmt: skip
    ChannelRule("Display", click_ids=["dclid"]),
    ChannelRule("Paid Search", click_ids=["gclid", "gbraid", "wbraid", "msclkid"]),
    ChannelRule("Affiliates", click_ids=["irclickid"]),
    ChannelRule("Paid Video", utm_source=_VIDEO, utm_medium=_PAID),
    ChannelRule("Paid Social", utm_source=_SOCIAL, utm_medium=_PAID),
    ChannelRule("Paid Search", utm_source=_SEARCH, utm_medium=_PAID),
    ChannelRule("Paid Social", utm_medium=r"paid[-_ ]?social|social[-_ ]?paid"),
    ChannelRule("Display", utm_medium=r"display|banner|expandable|interstitial|cpm"),
    ChannelRule("Paid Other", utm_medium=_PAID),
    ChannelRule("Email", utm_source=r"e[-_ ]?mail|newsletter"),
    ChannelRule("Email", utm_medium=r"e[-_ ]?mail|newsletter"),
    ChannelRule("Affiliates", utm_medium=r"affiliates?|partner"),
    ChannelRule("SMS", utm_source=r"sms"),
    ChannelRule("SMS", utm_medium=r"sms"),
    ChannelRule("Mobile Push Notifications", utm_medium=r".*push|.*mobile.*|.*notification.*"),
    ChannelRule("Audio", utm_medium=r"audio|podcast"),
    ChannelRule("Organic Video", utm_source=_VIDEO),
    ChannelRule("Organic Video", utm_medium=r".*video.*"),
    ChannelRule("Organic Social", utm_source=_SOCIAL),
    ChannelRule("Organic Social", utm_medium=r"social|social[-_ ]?network|social[-_ ]?media|sm"),
    ChannelRule("Organic Search", utm_source=_SEARCH),
    ChannelRule("Organic Search", utm_medium=r"organic"),
    ChannelRule("Referral", utm_medium=r"referral|app|link"),
)


@dataclass(frozen=True)
class Touch:
    """What the grouping looks at, taken from an event's campaign and context."""

    click_ids: frozenset[str] = frozenset()
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_host: str | None = None  # an external referrer's host, lower-case


Matcher = Callable[[Touch, str, str], bool]


def _regex(pattern: str | None, pick: Callable[[Touch, str, str], str | None]) -> Matcher | None:
    if pattern is None:
        return None
    rx = re.compile(pattern, re.IGNORECASE)

    def match(t: Touch, src: str, med: str) -> bool:
        value = pick(t, src, med)
        return value is not None and rx.fullmatch(value) is not None

    return match


def _host_in(domains: list[str]) -> Matcher:
    wanted = tuple(d.lower().lstrip(".") for d in domains)

    def match(t: Touch, src: str, med: str) -> bool:
        host = t.referrer_host or ""
        return any(host == d or host.endswith("." + d) for d in wanted)

    return match


def _is_direct(t: Touch) -> bool:
    return not (t.click_ids or t.utm_source or t.utm_medium or t.referrer_host)


def compile_rule(rule: ChannelRule) -> Matcher:
    tests: list[Matcher] = []
    if rule.click_ids:
        ids = frozenset(rule.click_ids)
        tests.append(lambda t, s, m: not ids.isdisjoint(t.click_ids))
    for m in (
        _regex(rule.utm_source, lambda t, s, m: s),
        _regex(rule.utm_medium, lambda t, s, m: m),
        _regex(rule.utm_campaign, lambda t, s, m: t.utm_campaign),
    ):
        if m is not None:
            tests.append(m)
    if rule.referrer_domains:
        tests.append(_host_in(rule.referrer_domains))
    if rule.direct is not None:
        want = rule.direct
        tests.append(lambda t, s, m: _is_direct(t) == want)
    return lambda t, s, m: all(test(t, s, m) for test in tests)


@dataclass(frozen=True)
class ChannelGrouping:
    rules: tuple[tuple[str, Matcher], ...]
    fallback: str

    def channel(self, touch: Touch) -> str:
        source = touch.utm_source or touch.referrer_host or "(direct)"
        medium = touch.utm_medium or ("referral" if touch.referrer_host else "(none)")
        for name, match in self.rules:
            if match(touch, source, medium):
                return name
        return self.fallback


def grouping(channels: Channels) -> ChannelGrouping:
    rules = list(channels.rules) + (list(DEFAULT_RULES) if channels.include_defaults else [])
    return ChannelGrouping(tuple((r.channel, compile_rule(r)) for r in rules), channels.fallback)


def touch_from(campaign: Mapping[str, object], referrer_host: str | None = None) -> Touch:
    """A ``Touch`` from a campaign mapping (``msgspec.structs.asdict(event.campaign)``)."""
    from convtrack.events import CLICK_IDS

    def text(key: str) -> str | None:
        value = campaign.get(key)
        return value if isinstance(value, str) and value else None

    ids = frozenset(k for k in CLICK_IDS if text(k))
    return Touch(ids, text("utm_source"), text("utm_medium"), text("utm_campaign"), referrer_host)
