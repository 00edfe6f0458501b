"""The consent decision: what may be stored, and where an event may be sent.

A pure function of the event's ``Consent`` (specs/tracking-protocols.md §7), the visitor's
region and a ``ConsentPolicy``. Four signals are decided, named as in Google Consent Mode v2:
``ad_storage``, ``analytics_storage``, ``ad_user_data`` and ``ad_personalization``. Each one is

1. *denied* if any source denies it: Consent Mode says ``denied``, the TCF string does not
   grant the purposes mapped below, the TCF string is present but unreadable (it then counts
   as no TCF consent at all), or - for the three ad signals - GPC is on and honoured;
2. otherwise *granted* if Consent Mode or the TCF string grants it;
3. otherwise (no signal at all) the region default: ``denied`` in opt-in regions (EEA, UK,
   CH by default) and when the region is unknown, ``granted`` elsewhere.

TCF purpose mapping (§7.3 "Practical gates"; only consent bits count, legitimate-interest
bits are ignored, which is the conservative reading):

- ``ad_storage``         <- P1 (store/access information on a device)
- ``analytics_storage``  <- P1 and any of P7/P8/P9/P10 (measurement, audiences, improvement)
- ``ad_user_data``       <- P1 and P7 (measure ad performance: conversion forwarding)
- ``ad_personalization`` <- P1, P3 and P4 (personalised-ads profile and selection)

A TCF string applies whenever one is present (``Consent`` carries no separate gdpr flag).
Destinations with a GVL vendor id in ``ConsentPolicy.tcf_vendor_ids`` (Google = 755)
also need that vendor's consent bit when a TCF string applies.

Storage modes per purpose: ``full`` (identifiers kept as received), ``pseudonymous`` (the
event is kept without persistent identifiers; IP truncated, user agent reduced) and
``nothing`` (not stored for that purpose). A granted signal always means ``full``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from convtrack.enrich.tcf import TcfConsent, decode_tc_string
from convtrack.errors import ConvtrackError
from convtrack.events import Consent, ConsentValue

StorageMode = Literal["full", "pseudonymous", "nothing"]
Signal = Literal["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"]

SIGNALS: tuple[Signal, ...] = (
    "ad_storage", "analytics_storage", "ad_user_data", "ad_personalization",
)  # fmt: skip
AD_SIGNALS: frozenset[Signal] = frozenset({"ad_storage", "ad_user_data", "ad_personalization"})
DESTINATIONS: tuple[str, ...] = (
    "meta", "google", "ga4", "tiktok", "linkedin", "snapchat", "pinterest", "reddit",
    "microsoft", "webhook",
)  # fmt: skip

# EU 27 + EEA (IS, LI, NO) + UK + Switzerland: consent is opt-in, so silence means denied.
OPT_IN_REGIONS: frozenset[str] = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",  # EU 27
    "IS", "LI", "NO",  # rest of the EEA
    "GB", "CH",
})  # fmt: skip
_REGION_ALIASES = {"UK": "GB", "EL": "GR"}

# Destination kind -> the signals it needs granted. ``first_party`` (the operator's own
# webhook) needs none: gate it in the webhook's own configuration if it forwards further.
KIND_REQUIREMENTS: Mapping[str, tuple[Signal, ...]] = {
    "ads": ("ad_user_data",),
    "analytics": ("analytics_storage",),
    "first_party": (),
}
DESTINATION_KINDS: Mapping[str, str] = {
    **{name: "ads" for name in DESTINATIONS if name not in ("ga4", "webhook")},
    "ga4": "analytics",
    "webhook": "first_party",
}
TCF_VENDOR_IDS: Mapping[str, int] = {"google": 755}

# Signal -> (TCF purposes all required, TCF purposes of which at least one is required).
TCF_GATES: Mapping[Signal, tuple[frozenset[int], frozenset[int]]] = {
    "ad_storage": (frozenset({1}), frozenset()),
    "analytics_storage": (frozenset({1}), frozenset({7, 8, 9, 10})),
    "ad_user_data": (frozenset({1, 7}), frozenset()),
    "ad_personalization": (frozenset({1, 3, 4}), frozenset()),
}
TCF_PURPOSE_NAMES: Mapping[int, str] = {
    1: "store and/or access information on a device",
    3: "create profiles for personalised advertising",
    4: "use profiles to select personalised advertising",
    7: "measure advertising performance",
    8: "measure content performance",
    9: "understand audiences through statistics",
    10: "develop and improve services",
}


@dataclass(frozen=True)
class ConsentPolicy:
    """How consent signals turn into a decision. Defaults are the cautious, EU-safe choice.

    - ``analytics_when_denied``: analytics events are still counted, without identifiers.
    - ``ads_when_denied``: nothing is kept for ads (no click ids, no hashed PII).
    - ``opt_in_regions``: ISO 3166-1 alpha-2 codes where a missing signal means denied.
    - ``unknown_region_default``: what a missing signal means when the region is unknown.
    - ``honor_gpc``: Global Privacy Control (``Sec-GPC: 1``) denies all three ad signals.
    - ``destination_kinds`` / ``kind_requirements``: which signals each destination needs.
    - ``tcf_vendor_ids``: destination -> GVL vendor id whose consent bit a TCF string must set.
    """

    analytics_when_denied: StorageMode = "pseudonymous"
    ads_when_denied: StorageMode = "nothing"
    opt_in_regions: frozenset[str] = OPT_IN_REGIONS
    unknown_region_default: ConsentValue = "denied"
    honor_gpc: bool = True
    destination_kinds: Mapping[str, str] = field(default_factory=lambda: dict(DESTINATION_KINDS))
    kind_requirements: Mapping[str, tuple[Signal, ...]] = field(
        default_factory=lambda: dict(KIND_REQUIREMENTS)
    )
    tcf_vendor_ids: Mapping[str, int] = field(default_factory=lambda: dict(TCF_VENDOR_IDS))


@dataclass(frozen=True)
class Decision:
    """The outcome of ``decide``; ``reasons`` are short machine-readable codes."""

    analytics: StorageMode
    ads: StorageMode
    persistent_ids: bool
    truncate_ip: bool
    reduce_user_agent: bool
    destinations: dict[str, bool]
    signals: dict[str, ConsentValue]
    region: str | None
    reasons: list[str]
    tcf_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- decide ------------------------------------------------------------------------------


def decide(consent: Consent | None, region: str | None, policy: ConsentPolicy) -> Decision:
    """Combine Consent Mode, TCF and GPC with the region default (see the module docstring)."""
    consent = consent or Consent()
    region = normalise_region(region)
    reasons: list[str] = []
    tcf, tcf_error = _read_tcf(consent.tcf, reasons)
    gpc = _gpc_applies(consent, policy, reasons)
    default = _region_default(region, policy)
    signals = {
        s: _decide_signal(s, consent, tcf, tcf_error, gpc, default, reasons) for s in SIGNALS
    }
    analytics = _mode(signals["analytics_storage"], policy.analytics_when_denied)
    ads = _mode(signals["ad_storage"], policy.ads_when_denied)
    persistent = "full" in (analytics, ads)
    return Decision(
        analytics=analytics,
        ads=ads,
        persistent_ids=persistent,
        truncate_ip=not persistent,
        reduce_user_agent=not persistent,
        destinations=_destinations(signals, tcf, policy, reasons),
        signals={str(name): value for name, value in signals.items()},
        region=region,
        reasons=list(dict.fromkeys(reasons)),  # de-duplicated, first occurrence kept
        tcf_error=tcf_error,
    )


def normalise_region(region: str | None) -> str | None:
    """``"de"`` -> ``"DE"``, ``"US-CA"`` -> ``"US"``, ``"UK"`` -> ``"GB"``; blank -> None."""
    code = (region or "").strip().upper().split("-", 1)[0]
    return _REGION_ALIASES.get(code, code) or None


def _read_tcf(tc_string: str | None, reasons: list[str]) -> tuple[TcfConsent | None, str | None]:
    if not tc_string:
        return None, None
    try:
        return decode_tc_string(tc_string), None
    except ConvtrackError as error:
        reasons.append("tcf=invalid")
        return None, error.message


def _gpc_applies(consent: Consent, policy: ConsentPolicy, reasons: list[str]) -> bool:
    if not consent.gpc:
        return False
    reasons.append("gpc" if policy.honor_gpc else "gpc=ignored")
    return policy.honor_gpc


def _region_default(region: str | None, policy: ConsentPolicy) -> ConsentValue:
    if region is None:
        return policy.unknown_region_default
    return "denied" if region in policy.opt_in_regions else "granted"


def _decide_signal(
    signal: Signal,
    consent: Consent,
    tcf: TcfConsent | None,
    tcf_error: str | None,
    gpc: bool,
    default: ConsentValue,
    reasons: list[str],
) -> ConsentValue:
    mode_value: ConsentValue | None = getattr(consent, signal)
    if mode_value is not None:
        reasons.append(f"consent_mode.{signal}={mode_value}")
    tcf_value = "denied" if tcf_error else _tcf_signal(signal, tcf, reasons)
    gpc_value = "denied" if gpc and signal in AD_SIGNALS else None
    values = (mode_value, tcf_value, gpc_value)
    if "denied" in values:
        return "denied"
    if "granted" in values:
        return "granted"
    reasons.append(f"region_default.{signal}={default}")
    return default


def _tcf_signal(signal: Signal, tcf: TcfConsent | None, reasons: list[str]) -> ConsentValue | None:
    if tcf is None:
        return None
    all_of, any_of = TCF_GATES[signal]
    missing = sorted(all_of - tcf.purpose_consents)
    if any_of and not any_of & tcf.purpose_consents:
        missing += sorted(any_of)
    value: ConsentValue = "denied" if missing else "granted"
    reasons.extend(f"tcf.purpose_{p}=absent" for p in missing)
    reasons.append(f"tcf.{signal}={value}")
    return value


def _mode(value: ConsentValue, when_denied: StorageMode) -> StorageMode:
    return "full" if value == "granted" else when_denied


def _destinations(
    signals: Mapping[Signal, ConsentValue],
    tcf: TcfConsent | None,
    policy: ConsentPolicy,
    reasons: list[str],
) -> dict[str, bool]:
    allowed = {}
    for name in DESTINATIONS:
        kind = policy.destination_kinds.get(name, "ads")  # unknown kinds: the strict gate
        needs = policy.kind_requirements.get(kind, ("ad_user_data",))
        ok = all(signals[s] == "granted" for s in needs)
        vendor = policy.tcf_vendor_ids.get(name)
        if ok and tcf is not None and vendor is not None and not tcf.vendor_consent(vendor):
            reasons.append(f"tcf.vendor_{vendor}=absent")
            ok = False
        allowed[name] = ok
    return allowed


# --- explain -----------------------------------------------------------------------------

_MODE_TEXT: Mapping[str, str] = {
    "full": "stored in full",
    "pseudonymous": "stored without persistent identifiers",
    "nothing": "not stored",
}
_REASON = re.compile(r"^(?P<source>[a-z_]+)(?:\.(?P<subject>[a-z_0-9]+))?(?:=(?P<value>\w+))?$")


def explain(decision: Decision) -> str:
    """Plain-English sentences for ``convtrack privacy why EVENT_ID``."""
    lines = [
        f"Analytics data is {_MODE_TEXT[decision.analytics]}.",
        f"Ads data is {_MODE_TEXT[decision.ads]}.",
        _identifier_sentence(decision),
        _destination_sentence(decision),
    ]
    lines += [_reason_sentence(reason, decision) for reason in decision.reasons]
    return "\n".join(lines)


def _identifier_sentence(decision: Decision) -> str:
    if decision.persistent_ids:
        return "Persistent identifiers, the full IP address and the user agent are kept."
    return (
        "Persistent identifiers are dropped, the IP address is truncated and the user agent "
        "is reduced to browser and operating system."
    )


def _destination_sentence(decision: Decision) -> str:
    sent = [name for name, ok in decision.destinations.items() if ok]
    held = [name for name, ok in decision.destinations.items() if not ok]
    parts = []
    if sent:
        parts.append(f"It may be sent to {', '.join(sent)}.")
    if held:
        parts.append(f"It is not sent to {', '.join(held)}.")
    return " ".join(parts)


def _reason_sentence(reason: str, decision: Decision) -> str:
    match = _REASON.match(reason)
    source, subject, value = match.group("source", "subject", "value") if match else ("", "", "")
    if source == "consent_mode":
        return f"Consent Mode set {subject} to {value}."
    if source == "region_default":
        where = f"region {decision.region}" if decision.region else "an unknown region"
        return f"No signal for {subject}, so the default for {where} applies: {value}."
    if reason == "gpc":
        return "The browser sent Global Privacy Control, so all ad signals are denied."
    if reason == "gpc=ignored":
        return "The browser sent Global Privacy Control, but the policy does not honour it."
    if reason == "tcf=invalid":
        return f"The TCF string could not be read ({decision.tcf_error}), so it grants nothing."
    if source == "tcf" and subject and subject.startswith("purpose_"):
        number = int(subject.removeprefix("purpose_"))
        return f"The TCF string does not grant purpose {number} ({TCF_PURPOSE_NAMES[number]})."
    if source == "tcf" and subject and subject.startswith("vendor_"):
        return f"The TCF string does not grant consent to vendor {subject.removeprefix('vendor_')}."
    if source == "tcf":
        verb = "grants" if value == "granted" else "does not grant"
        return f"The TCF string {verb} {subject}."
    return f"Reason: {reason}."


# --- data minimisation helpers -----------------------------------------------------------


def truncate_ip(ip: str) -> str | None:
    """Zero the host part: IPv4 to its /24, IPv6 to its /48; None if ``ip`` is not an address.

    An IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) is returned as its truncated IPv4 address;
    an IPv6 zone id (``%eth0``) is dropped.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    host_bits = 8 if address.version == 4 else 128 - 48
    return str(type(address)(int(address) >> host_bits << host_bits))


# (family, pattern with the major version in group 1), most specific first: Edge, Opera and
# Samsung Internet all also claim "Chrome/"; Chrome also claims "Safari/".
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern))
    for family, pattern in (
        ("Edge", r"\bEdg(?:e|A|iOS)?/(\d+)"),
        ("Opera", r"\b(?:OPR|Opera)/(\d+)"),
        ("Samsung Internet", r"\bSamsungBrowser/(\d+)"),
        ("Firefox", r"\b(?:Firefox|FxiOS)/(\d+)"),
        ("Chrome", r"\b(?:Chrome|CriOS)/(\d+)"),
        ("Safari", r"\bVersion/(\d+)(?:[.\d]*)? (?:Mobile/\S+ )?Safari/"),
    )
)
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (family, re.compile(pattern))
    for family, pattern in (
        ("Windows", r"Windows"),
        ("Android", r"Android"),
        ("iOS", r"iPhone|iPad|iPod"),
        ("ChromeOS", r"CrOS"),
        ("macOS", r"Macintosh|Mac OS X"),
        ("Linux", r"Linux"),
    )
)


def reduce_user_agent(ua: str) -> str:
    """``"<browser family>/<major version> (<OS family>)"``; everything else is dropped.

    Example: a full Chrome 120 on Windows 10 string becomes ``"Chrome/120 (Windows)"``. Device
    models, OS versions, build ids and minor versions (fingerprinting surface) are removed.
    Unrecognised parts become ``Other``; an unrecognised browser carries no version.
    """
    browser = next(
        (f"{family}/{m.group(1)}" for family, p in _BROWSERS if (m := p.search(ua))), "Other"
    )
    system = next((family for family, p in _SYSTEMS if p.search(ua)), "Other")
    return f"{browser} ({system})"
