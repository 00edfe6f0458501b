"""The consent decision applied to an event at ingest, and the record of what it did.

``ConsentGate`` is built once per server start from the settings (the ``ConsentPolicy`` and
how the visitor's region is known). For each valid event it decides (enrich.consent.decide,
cached per consent signals and region: most events of a site share them) and applies:

- analytics and ads both ``nothing``: the event is not stored at all;
- no persistent identifiers (``Decision.persistent_ids`` false, i.e. neither purpose is
  ``full``): ``anonymous_id``, ``user_id`` and ``session_id`` are dropped, the IP truncated
  and the user agent reduced;
- ads not ``full``: click ids and Meta's ``fbc``/``fbp`` are dropped, and so is all personal
  data (no canonical or per-platform hashes); utm_* and Google's campaign-level parameters
  (gclsrc, gad_source, gad_campaignid) stay, they identify a campaign, not a person;
- a device's advertising id is kept only when ``ad_storage`` and ``ad_user_data`` are not
  denied (it exists to match a person across apps for ads);
- otherwise identifiers are hashed (enrich.pii.hash_identifiers; the gate's ``IdentifierHasher``
  remembers the hashes of recent values).

``ip_truncation = "always"`` truncates every IP. ``Event.consent_decision`` records the
decision and the ``applied`` actions (a ``DecisionRecord``: one per cached decision, its JSON
text encoded once); ``explain_record`` turns it back into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

from convtrack.config import Settings
from convtrack.enrich.consent import (
    DESTINATIONS,
    ConsentPolicy,
    Decision,
    decide,
    explain,
    normalise_region,
    reduce_user_agent,
    truncate_ip,
)
from convtrack.enrich.pii import IdentifierHasher
from convtrack.events import CLICK_IDS, Consent, DecisionRecord, Event

CACHE_SIZE = 512  # distinct (consent signals, region) pairs remembered; cleared when full
# A visitor sends many events with one IP and one user agent: remember the reduced forms.
_truncate_ip = lru_cache(maxsize=4096)(truncate_ip)
_reduce_user_agent = lru_cache(maxsize=1024)(reduce_user_agent)
_NO_AD_IDS: Mapping[str, None] = dict.fromkeys((*CLICK_IDS, "fbc", "fbp"))

# Codes in ``consent_decision["applied"]`` and what they mean, for ``explain_record``.
APPLIED: Mapping[str, str] = {
    "identifiers_dropped": "anonymous_id, user_id and session_id were not stored.",
    "ad_ids_dropped": "Click ids and the Meta browser ids (fbc, fbp) were not stored.",
    "personal_data_dropped": "Personal data (email, phone, names, address) was not stored, "
    "not even hashed.",
    "personal_data_hashed": "Personal data was stored only as SHA-256 hashes.",
    "ip_truncated": "The IP address was truncated (IPv4 to /24, IPv6 to /48).",
    "user_agent_reduced": "The user agent was reduced to browser and operating system.",
}


def policy_from_settings(settings: Settings) -> ConsentPolicy:
    regions = (normalise_region(r) for r in settings.consent_opt_in_regions.split(","))
    return ConsentPolicy(
        analytics_when_denied=settings.consent_analytics_when_denied,  # type: ignore[arg-type]
        ads_when_denied=settings.consent_ads_when_denied,  # type: ignore[arg-type]
        opt_in_regions=frozenset(r for r in regions if r),
        unknown_region_default=settings.consent_unknown_region,  # type: ignore[arg-type]
        honor_gpc=settings.honor_gpc,
    )


def valid_region(text: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code from a header value, or None (``XX``, ``T1``, junk)."""
    region = normalise_region(text)
    if region is None or len(region) != 2 or not region.isascii() or not region.isalpha():
        return None
    return None if region == "XX" else region


@dataclass(frozen=True)
class Outcome:
    """A decision and how it applies: shared by every event with the same signals and region."""

    decision: Decision
    record: DecisionRecord  # its JSON text is encoded once here, for every event sharing it
    store: bool
    keep_ids: bool
    keep_ads: bool  # click ids, fbc/fbp and personal data
    keep_advertising_id: bool  # keep_ads, and neither ad_storage nor ad_user_data denied
    truncate_ip: bool
    reduce_user_agent: bool


class ConsentGate:
    def __init__(self, settings: Settings) -> None:
        self.policy = policy_from_settings(settings)
        self.region_header = settings.region_header.strip().lower().encode()
        self.default_region = valid_region(settings.default_region)
        self.always_truncate = settings.ip_truncation == "always"
        self.keep_raw = settings.store_raw_pii
        self._cache: dict[tuple[Any, ...], Outcome] = {}
        self.hash_identifiers = IdentifierHasher()

    def region(self, header_value: bytes | None) -> str | None:
        """The trusted region header's country if valid, else ``default_region``."""
        if header_value:
            found = valid_region(header_value.decode("latin-1"))
            if found is not None:
                return found
        return self.default_region

    def outcome(self, consent: Consent | None, region: str | None) -> Outcome:
        key: tuple[Any, ...] = (region,)
        if consent is not None:
            key = (
                region, consent.ad_storage, consent.analytics_storage, consent.ad_user_data,
                consent.ad_personalization, consent.tcf, consent.gpc,
            )  # fmt: skip
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            found = self._cache[key] = self._outcome(decide(consent, region, self.policy))
        return found

    def analytics_full(self, consent: Consent | None, region: str | None) -> bool:
        """May this event carry (and the response set) the anonymous-id cookie?"""
        return self.outcome(consent, region).decision.analytics == "full"

    def _outcome(self, d: Decision) -> Outcome:
        keep_ads = d.ads == "full"
        truncate = d.truncate_ip or self.always_truncate
        applied = [
            code
            for code, on in (
                ("identifiers_dropped", not d.persistent_ids),
                ("ad_ids_dropped", not keep_ads),
                ("personal_data_dropped", not keep_ads),
                ("personal_data_hashed", keep_ads and not self.keep_raw),
                ("ip_truncated", truncate),
                ("user_agent_reduced", d.reduce_user_agent),
            )
            if on
        ]
        record = DecisionRecord.of(
            {
                "analytics": d.analytics,
                "ads": d.ads,
                "persistent_ids": d.persistent_ids,
                "destinations": [name for name, ok in d.destinations.items() if ok],
                "signals": d.signals,
                "region": d.region,
                "reasons": d.reasons,
                "tcf_error": d.tcf_error,
                "applied": applied,
            }
        )
        return Outcome(
            decision=d,
            record=record,
            store=(d.analytics, d.ads) != ("nothing", "nothing"),
            keep_ids=d.persistent_ids,
            keep_ads=keep_ads,
            keep_advertising_id=keep_ads
            and "denied" not in (d.signals.get("ad_storage"), d.signals.get("ad_user_data")),
            truncate_ip=truncate,
            reduce_user_agent=d.reduce_user_agent,
        )

    def apply(
        self, event: Event, region: str | None, *, keep_raw: bool | None = None
    ) -> Event | None:
        """The event as it may be stored, or None when it may not be stored at all.

        ``keep_raw`` overrides ``store_raw_pii`` (replay never keeps a hash as a raw value).
        """
        out = self.outcome(event.consent, region)
        if not out.store:
            return None
        if out.keep_ads:
            if not out.keep_advertising_id and event.identifiers is not None:
                event.identifiers.advertising_id = None  # a device id needs ads consent
            raw = self.keep_raw if keep_raw is None else keep_raw
            self.hash_identifiers(event, keep_raw=raw, region=region)
        else:
            event.identifiers = None
            event.campaign = msgspec.structs.replace(event.campaign, **_NO_AD_IDS)
        if not out.keep_ids:
            event.anonymous_id = event.user_id = event.session_id = None
        ctx = event.context
        if (out.truncate_ip and ctx.ip) or (out.reduce_user_agent and ctx.user_agent):
            event.context = msgspec.structs.replace(
                ctx,
                ip=_truncate_ip(ctx.ip) if out.truncate_ip and ctx.ip else ctx.ip,
                user_agent=_reduce_user_agent(ctx.user_agent)
                if out.reduce_user_agent and ctx.user_agent
                else ctx.user_agent,
            )
        event.consent_decision = out.record
        return event


# --- explain a stored decision -------------------------------------------------------------


def decision_from_record(record: Mapping[str, Any]) -> Decision:
    """The ``Decision`` back from a stored ``consent_decision`` (for ``explain``)."""
    allowed = set(record.get("destinations") or [])
    persistent = bool(record.get("persistent_ids"))
    return Decision(
        analytics=record["analytics"],
        ads=record["ads"],
        persistent_ids=persistent,
        truncate_ip=not persistent,
        reduce_user_agent=not persistent,
        destinations={name: name in allowed for name in (*DESTINATIONS, *sorted(allowed))},
        signals=dict(record.get("signals") or {}),
        region=record.get("region"),
        reasons=list(record.get("reasons") or []),
        tcf_error=record.get("tcf_error"),
    )


def explain_record(record: Mapping[str, Any]) -> str:
    """``enrich.consent.explain`` of the stored decision, then what ingest did to the event."""
    lines = [explain(decision_from_record(record)), "What was done to this event:"]
    applied = record.get("applied") or []
    lines += [f"- {APPLIED.get(code, code)}" for code in applied]
    if not applied:
        lines.append("- Nothing was removed; personal data was stored as sent (store_raw_pii).")
    return "\n".join(lines)
