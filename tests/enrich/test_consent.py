"""The consent decision (specs/tracking-protocols.md §7) and the data-minimisation helpers."""

from __future__ import annotations

import dataclasses
import json

import msgspec
import pytest

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
from convtrack.events import Consent

POLICY = ConsentPolicy()
ADS = ["meta", "google", "tiktok", "linkedin", "snapchat", "pinterest", "reddit", "microsoft"]
# Spec §7.3 test vector: purposes [1, 3, 4, 7] consented, vendors [2, 755].
VECTOR = "CP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5wAgABALzAvOACAvMAA.IAAA.YAAAAAAAAAAA"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def tc_string(purposes: set[int], vendors: frozenset[int] | set[int] = frozenset({755})) -> str:
    """A minimal valid core segment: the given purpose consents and vendor consents."""
    bits = "".join(
        format(value, f"0{width}b")
        for value, width in [(2, 6), (17_000_000_000, 36), (17_000_000_000, 36), (10, 12)]
        + [(2, 12), (1, 6), (4, 6), (13, 6), (150, 12), (4, 6), (0, 1), (0, 1), (0, 12)]
    )
    bits += "".join("1" if i in purposes else "0" for i in range(1, 25))
    bits += "0" * 24 + "0" + format(3, "06b") + format(4, "06b")  # no LI, PublisherCC "DE"
    max_id = max(vendors, default=0)
    bits += format(max_id, "016b") + "0"  # bitfield encoding
    bits += "".join("1" if i in vendors else "0" for i in range(1, max_id + 1))
    bits += format(0, "016b") + "0"  # no vendor legitimate interests
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def allowed(decision: Decision) -> set[str]:
    return {name for name, ok in decision.destinations.items() if ok}


# --- region defaults ---------------------------------------------------------------------


def test_missing_signals_outside_opt_in_regions_are_granted() -> None:
    d = decide(None, "US", POLICY)
    assert set(d.signals.values()) == {"granted"}
    assert (d.analytics, d.ads) == ("full", "full")
    assert (d.persistent_ids, d.truncate_ip, d.reduce_user_agent) == (True, False, False)
    assert allowed(d) == set(DESTINATIONS)
    assert "region_default.ad_user_data=granted" in d.reasons


@pytest.mark.parametrize("region", ["DE", "de", "FR", "NO", "GB", "UK", "CH", None, ""])
def test_missing_signals_in_opt_in_or_unknown_regions_are_denied(region: str | None) -> None:
    d = decide(Consent(), region, POLICY)
    assert set(d.signals.values()) == {"denied"}
    assert (d.analytics, d.ads) == ("pseudonymous", "nothing")
    assert (d.persistent_ids, d.truncate_ip, d.reduce_user_agent) == (False, True, True)
    assert allowed(d) == {"webhook"}
    assert "region_default.ad_user_data=denied" in d.reasons


def test_unknown_region_default_and_opt_in_list_are_policy() -> None:
    lenient = ConsentPolicy(unknown_region_default="granted", opt_in_regions=frozenset({"US"}))
    assert set(decide(None, None, lenient).signals.values()) == {"granted"}
    assert set(decide(None, "US", lenient).signals.values()) == {"denied"}
    assert set(decide(None, "DE", lenient).signals.values()) == {"granted"}


@pytest.mark.parametrize(
    ("raw", "code"), [("de", "DE"), (" US-CA ", "US"), ("uk", "GB"), ("EL", "GR"), ("", None)]
)
def test_normalise_region(raw: str, code: str | None) -> None:
    assert normalise_region(raw) == code


# --- Consent Mode, field by field ----------------------------------------------------------

# field -> (analytics mode, ads mode, destinations allowed) when only that field is denied.
DENIED_EFFECT = {
    "analytics_storage": ("pseudonymous", "full", set(DESTINATIONS) - {"ga4"}),
    "ad_storage": ("full", "nothing", set(DESTINATIONS)),
    "ad_user_data": ("full", "full", {"ga4", "webhook"}),
    "ad_personalization": ("full", "full", set(DESTINATIONS)),
}


@pytest.mark.parametrize("signal", sorted(DENIED_EFFECT))
def test_consent_mode_denied_overrides_a_granting_region(signal: str) -> None:
    d = decide(Consent(**{signal: "denied"}), "US", POLICY)
    assert d.signals[signal] == "denied"
    assert {s for s, v in d.signals.items() if v == "granted"} == set(DENIED_EFFECT) - {signal}
    assert (d.analytics, d.ads, allowed(d)) == DENIED_EFFECT[signal]
    assert f"consent_mode.{signal}=denied" in d.reasons
    assert f"region_default.{signal}=granted" not in d.reasons


@pytest.mark.parametrize("signal", sorted(DENIED_EFFECT))
def test_consent_mode_granted_overrides_a_denying_region(signal: str) -> None:
    d = decide(Consent(**{signal: "granted"}), "DE", POLICY)
    assert d.signals[signal] == "granted"
    assert {s for s, v in d.signals.items() if v == "denied"} == set(DENIED_EFFECT) - {signal}
    assert f"consent_mode.{signal}=granted" in d.reasons
    assert f"region_default.{signal}=denied" not in d.reasons


def test_all_granted_in_the_eea_allows_everything() -> None:
    everything = Consent(
        ad_storage="granted",
        analytics_storage="granted",
        ad_user_data="granted",
        ad_personalization="granted",
    )
    d = decide(everything, "DE", POLICY)
    assert allowed(d) == set(DESTINATIONS)
    assert not any(r.startswith("region_default") for r in d.reasons)


def test_denied_storage_modes_come_from_the_policy() -> None:
    policy = ConsentPolicy(analytics_when_denied="nothing", ads_when_denied="pseudonymous")
    d = decide(None, "DE", policy)
    assert (d.analytics, d.ads, d.persistent_ids) == ("nothing", "pseudonymous", False)
    keep_all = ConsentPolicy(analytics_when_denied="full")
    assert decide(None, "DE", keep_all).persistent_ids is True


def test_destination_requirements_are_policy() -> None:
    policy = ConsentPolicy(destination_kinds={"webhook": "ads"})  # others: the strict gate
    d = decide(Consent(ad_user_data="denied"), "US", policy)
    assert allowed(d) == set()


# --- Global Privacy Control --------------------------------------------------------------


def test_gpc_denies_every_ad_signal_even_when_granted() -> None:
    consent = Consent(ad_storage="granted", ad_user_data="granted", gpc=True)
    d = decide(consent, "US", POLICY)
    assert d.signals == {
        "ad_storage": "denied",
        "analytics_storage": "granted",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }
    assert allowed(d) == {"ga4", "webhook"}
    assert (d.analytics, d.ads) == ("full", "nothing")
    assert "gpc" in d.reasons


def test_gpc_can_be_ignored_by_policy() -> None:
    d = decide(Consent(gpc=True), "US", ConsentPolicy(honor_gpc=False))
    assert set(d.signals.values()) == {"granted"}
    assert "gpc=ignored" in d.reasons and "gpc" not in d.reasons


def test_gpc_false_is_no_signal() -> None:
    d = decide(Consent(gpc=False), "US", POLICY)
    assert not any(r.startswith("gpc") for r in d.reasons)


# --- TCF ---------------------------------------------------------------------------------


def test_spec_vector_grants_everything_in_the_eea() -> None:
    d = decide(Consent(tcf=VECTOR), "DE", POLICY)  # purposes 1, 3, 4, 7; vendor 755
    assert set(d.signals.values()) == {"granted"}
    assert allowed(d) == set(DESTINATIONS)
    assert "tcf.ad_user_data=granted" in d.reasons
    assert d.tcf_error is None


def test_bit_writer_matches_the_decoder() -> None:
    assert decide(Consent(tcf=tc_string({1, 3, 4, 7})), "DE", POLICY) == decide(
        Consent(tcf=VECTOR), "DE", POLICY
    )


def test_tcf_without_purpose_1_denies_everything_even_outside_the_eea() -> None:
    d = decide(Consent(tcf=tc_string({3, 4, 7, 8})), "US", POLICY)
    assert set(d.signals.values()) == {"denied"}
    assert d.persistent_ids is False
    assert "tcf.purpose_1=absent" in d.reasons


@pytest.mark.parametrize(
    ("purposes", "granted"),
    [
        ({1}, {"ad_storage"}),
        ({1, 7}, {"ad_storage", "ad_user_data", "analytics_storage"}),
        ({1, 8}, {"ad_storage", "analytics_storage"}),
        ({1, 3, 4}, {"ad_storage", "ad_personalization"}),
        ({1, 3, 7}, {"ad_storage", "ad_user_data", "analytics_storage"}),
    ],
)
def test_tcf_purpose_mapping(purposes: set[int], granted: set[str]) -> None:
    d = decide(Consent(tcf=tc_string(purposes)), "DE", POLICY)
    assert {s for s, v in d.signals.items() if v == "granted"} == granted


def test_tcf_missing_purpose_is_named() -> None:
    d = decide(Consent(tcf=tc_string({1, 8})), "DE", POLICY)
    assert "tcf.purpose_7=absent" in d.reasons
    assert "tcf.ad_user_data=denied" in d.reasons
    assert allowed(d) == {"ga4", "webhook"}


def test_consent_mode_denial_beats_tcf_consent() -> None:
    d = decide(Consent(tcf=VECTOR, ad_user_data="denied"), "DE", POLICY)
    assert d.signals["ad_user_data"] == "denied"
    assert d.signals["ad_storage"] == "granted"


def test_google_needs_its_tcf_vendor_consent() -> None:
    d = decide(Consent(tcf=tc_string({1, 3, 4, 7}, vendors={2})), "DE", POLICY)
    assert d.destinations["google"] is False
    assert d.destinations["meta"] is True
    assert "tcf.vendor_755=absent" in d.reasons


@pytest.mark.parametrize(
    "broken", ["!!!not-base64", "CP4b", "BP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5w"]
)
def test_a_broken_tcf_string_never_raises_and_grants_nothing(broken: str) -> None:
    d = decide(Consent(tcf=broken, ad_user_data="granted"), "US", POLICY)
    assert set(d.signals.values()) == {"denied"}
    assert allowed(d) == {"webhook"}
    assert "tcf=invalid" in d.reasons
    assert d.tcf_error


# --- the Decision value ------------------------------------------------------------------


def test_decision_is_frozen_and_serialisable() -> None:
    d = decide(Consent(tcf="???", gpc=True), "DE", POLICY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.ads = "full"  # type: ignore[misc]
    as_dict = d.as_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert msgspec.json.decode(msgspec.json.encode(as_dict)) == as_dict
    assert set(as_dict["destinations"]) == set(DESTINATIONS)


def test_reasons_are_unique() -> None:
    d = decide(Consent(tcf=tc_string(set())), "DE", POLICY)
    assert len(d.reasons) == len(set(d.reasons))
    assert d.reasons.count("tcf.purpose_1=absent") == 1


# --- explain -----------------------------------------------------------------------------


def test_explain_region_default() -> None:
    text = explain(decide(None, "DE", POLICY))
    assert "Analytics data is stored without persistent identifiers." in text
    assert "Ads data is not stored." in text
    assert "the IP address is truncated" in text
    assert "It may be sent to webhook." in text
    assert "It is not sent to meta, google, ga4," in text
    assert "No signal for ad_user_data, so the default for region DE applies: denied." in text


def test_explain_unknown_region_and_full_storage() -> None:
    text = explain(decide(Consent(analytics_storage="granted"), None, POLICY))
    assert "Analytics data is stored in full." in text
    assert "Persistent identifiers, the full IP address and the user agent are kept." in text
    assert "Consent Mode set analytics_storage to granted." in text
    assert "the default for an unknown region applies: denied" in text


def test_explain_gpc_and_tcf() -> None:
    text = explain(decide(Consent(gpc=True, tcf=tc_string({1, 8}, vendors=set())), "US", POLICY))
    assert "The browser sent Global Privacy Control, so all ad signals are denied." in text
    assert "The TCF string does not grant purpose 7 (measure advertising performance)." in text
    assert "The TCF string does not grant ad_user_data." in text
    assert "The TCF string grants ad_storage." in text
    ignored = explain(decide(Consent(gpc=True), "US", ConsentPolicy(honor_gpc=False)))
    assert "but the policy does not honour it" in ignored


def test_explain_broken_tcf_and_vendor() -> None:
    text = explain(decide(Consent(tcf="!!"), "DE", POLICY))
    assert "The TCF string could not be read (" in text
    assert "so it grants nothing." in text
    vendor = explain(decide(Consent(tcf=tc_string({1, 7}, vendors={2})), "DE", POLICY))
    assert "The TCF string does not grant consent to vendor 755." in vendor


# --- truncate_ip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "truncated"),
    [
        ("203.0.113.77", "203.0.113.0"),
        (" 10.1.2.3 ", "10.1.2.0"),
        ("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::"),
        ("2001:DB8::1", "2001:db8::"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
        ("fe80::1:2:3:4%eth0", "fe80::"),
        ("::1", "::"),
    ],
)
def test_truncate_ip(ip: str, truncated: str) -> None:
    assert truncate_ip(ip) == truncated


@pytest.mark.parametrize("ip", ["", "not-an-ip", "300.1.2.3", "1.2.3", "2001:db8::g", "1.2.3.4/24"])
def test_truncate_ip_invalid_is_none(ip: str) -> None:
    assert truncate_ip(ip) is None


# --- reduce_user_agent -------------------------------------------------------------------

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.130 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
EDGE_WIN = CHROME_WIN + " Edg/120.0.2210.91"
SAMSUNG = (
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)
OPERA_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"
)
CHROMEOS = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "reduced"),
    [
        (CHROME_WIN, "Chrome/120 (Windows)"),
        (SAFARI_IPHONE, "Safari/17 (iOS)"),
        (SAFARI_MAC, "Safari/17 (macOS)"),
        (CHROME_ANDROID, "Chrome/120 (Android)"),
        (EDGE_WIN, "Edge/120 (Windows)"),
        (SAMSUNG, "Samsung Internet/23 (Android)"),
        (FIREFOX_LINUX, "Firefox/121 (Linux)"),
        (CHROME_IOS, "Chrome/120 (iOS)"),
        (OPERA_MAC, "Opera/105 (macOS)"),
        (CHROMEOS, "Chrome/120 (ChromeOS)"),
        ("curl/8.4.0", "Other (Other)"),
        ("", "Other (Other)"),
    ],
)
def test_reduce_user_agent(ua: str, reduced: str) -> None:
    assert reduce_user_agent(ua) == reduced


def test_reduced_user_agent_drops_device_and_versions() -> None:
    reduced = reduce_user_agent(CHROME_ANDROID)
    assert "Pixel" not in reduced and "14" not in reduced and "6099" not in reduced
