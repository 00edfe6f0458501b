"""What a touchpoint is, and how its source becomes channel / source / medium / campaign / ad.

A touchpoint is found in stored events (docs/attribution.md, "Touchpoints"):

- an **impression** event is a *view* at its time;
- an event carrying campaign data (a click id or ``utm_source`` / ``utm_medium`` /
  ``utm_campaign``) is a *click* at its ``click_at`` (the landing time the tag remembers),
  else at its own time — every event that carries one remembered landing names the same
  touch, so it is counted once;
- a **page** view whose referrer is not the page's own host (or empty) is a *click* from that
  referrer (organic, referral) or a direct visit, unless it carries a fresh landing (a click
  younger than 30 minutes), which is that click;
- a touch with the same source as the same person's previous touch less than 30 minutes
  earlier continues that visit and is not counted again.

SQL only produces each touch's *signature* (which click ids, UTMs, referrer host); Python
classifies each distinct signature once with the plan's channel rules, so the rules are
exactly the ones ingest uses, on every engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from convtrack.plan.channels import ChannelGrouping, Touch

Level = Literal["channel", "source", "medium", "source_medium", "campaign", "ad"]
LEVELS: tuple[Level, ...] = ("channel", "source", "medium", "source_medium", "campaign", "ad")
SIGNATURE_COLUMNS = (
    "kind", "click_ids", "utm_source", "utm_medium", "utm_campaign", "utm_content", "ref_host",
)  # fmt: skip
NOT_SET = "(not set)"
VISIT_SECONDS = 30 * 60

# Which platform a click id comes from, for source/medium when no utm_source says it
# (specs/tracking-protocols.md §6; Google's auto-tagging reports google / cpc the same way).
CLICK_ID_SOURCES: dict[str, str] = {
    "gclid": "google", "gbraid": "google", "wbraid": "google", "dclid": "google",
    "fbclid": "facebook", "ttclid": "tiktok", "msclkid": "bing", "li_fat_id": "linkedin",
    "twclid": "twitter", "ScCid": "snapchat", "epik": "pinterest", "rdt_cid": "reddit",
    "irclickid": "impact",
}  # fmt: skip


@dataclass(frozen=True)
class Signature:
    """One distinct touch source as the SQL sees it (empty strings for absent values)."""

    kind: str  # "click" or "view"
    click_ids: str  # comma-separated names of the click ids present, in CLICK_IDS order
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_content: str
    ref_host: str

    def columns(self) -> tuple[str, ...]:
        """Its values in ``SIGNATURE_COLUMNS`` order (how SQL joins it back to touches)."""
        return tuple(getattr(self, c) for c in SIGNATURE_COLUMNS)

    @property
    def key(self) -> str:
        return "|".join(self.columns())

    @property
    def is_direct(self) -> bool:
        return self.kind == "click" and not (
            self.click_ids or self.utm_source or self.utm_medium or self.utm_campaign
            or self.ref_host
        )  # fmt: skip


DIRECT = Signature("click", "", "", "", "", "", "")


@dataclass(frozen=True)
class Labels:
    """A signature's name at every level."""

    channel: str
    source: str
    medium: str
    campaign: str
    ad: str
    is_direct: bool

    @property
    def source_medium(self) -> str:
        return f"{self.source} / {self.medium}"

    def at(self, level: Level) -> str:
        return str(getattr(self, level))


def signature(row: Sequence[object]) -> Signature:
    """A signature from one result row of ``journeys_sql.signatures_sql``."""
    return Signature(*(str(v) if v is not None else "" for v in row))


def labels(sig: Signature, grouping: ChannelGrouping) -> Labels:
    ids = [i for i in sig.click_ids.split(",") if i]
    touch = Touch(
        frozenset(ids), sig.utm_source or None, sig.utm_medium or None,
        sig.utm_campaign or None, sig.ref_host or None,
    )  # fmt: skip
    source = sig.utm_source or (CLICK_ID_SOURCES.get(ids[0], ids[0]) if ids else "")
    medium = sig.utm_medium or ("cpc" if ids else "")
    source = source or sig.ref_host or "(direct)"
    medium = medium or ("referral" if sig.ref_host else "(none)")
    return Labels(
        channel=grouping.channel(touch),
        source=source,
        medium=medium,
        campaign=sig.utm_campaign or NOT_SET,
        ad=sig.utm_content or NOT_SET,
        is_direct=sig.is_direct,
    )
