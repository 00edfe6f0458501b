"""The consent decision applied to events (enrich.privacy) and per-platform hashes (enrich.pii)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from convtrack.config import Settings
from convtrack.enrich.consent import DESTINATION_KINDS
from convtrack.enrich.normalize import PLATFORMS, hashed, is_hashed
from convtrack.enrich.pii import pii_hashes, platform_identifiers
from convtrack.enrich.privacy import ConsentGate, explain_record, valid_region
from convtrack.events import Campaign, Consent, Context, Event, Identifiers

VECTOR = "CP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5wAgABALzAvOACAvMAA.IAAA.YAAAAAAAAAAA"  # P1,3,4,7
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)
ADS = {name for name, kind in DESTINATION_KINDS.items() if kind == "ads"}


def event(consent: Consent | None = None, **ids: str) -> Event:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    return Event(
        event_id="e1", event_name="purchase", type="conversion", source="server",
        occurred_at=now, received_at=now, anonymous_id="anon-1", user_id="u-1",
        session_id="s-1",
        context=Context(ip="203.0.113.77", user_agent=UA),
        campaign=Campaign(
            utm_source="google", gclid="Cj0-click", fbclid="IwAR-x", gad_source="1",
            fbc="fb.1.1714557600000.IwAR-x", fbp="fb.1.1714557600000.123",
        ),
        identifiers=Identifiers(
            email=ids.get("email", "  Person@Example.COM "),
            phone=ids.get("phone", "+44 844 412 4653"),
        ),
        consent=consent,
    )  # fmt: skip


def gate(**settings: Any) -> ConsentGate:
    return ConsentGate(dataclasses.replace(Settings(), **settings).validate())


def assert_no_ad_data(e: Event) -> None:
    assert e.campaign.gclid is None and e.campaign.fbclid is None
    assert e.campaign.fbc is None and e.campaign.fbp is None
    assert e.campaign.utm_source == "google" and e.campaign.gad_source == "1"  # not personal
    assert e.identifiers is None and e.pii == {}
    assert (e.hashed.email_sha256, e.hashed.phone_sha256) == (None, None)


def test_eea_without_a_signal_is_pseudonymous_and_keeps_no_ad_data() -> None:
    e = gate().apply(event(), "DE")
    assert e is not None
    assert_no_ad_data(e)
    assert (e.anonymous_id, e.user_id, e.session_id) == (None, None, None)
    assert e.context.ip == "203.0.113.0" and e.context.user_agent == "Chrome/120 (Windows)"
    record = e.consent_decision
    assert record is not None
    assert (record["analytics"], record["ads"], record["region"]) == (
        "pseudonymous",
        "nothing",
        "DE",
    )
    assert not ADS & set(record["destinations"])
    assert "region_default.ad_storage=denied" in record["reasons"]
    assert {"identifiers_dropped", "ad_ids_dropped", "ip_truncated"} <= set(record["applied"])


def test_granted_region_keeps_everything_and_hashes_per_platform() -> None:
    e = gate().apply(event(), "US")
    assert e is not None and e.consent_decision is not None
    assert e.anonymous_id == "anon-1" and e.campaign.gclid == "Cj0-click"
    assert e.context.ip == "203.0.113.77" and e.context.user_agent == UA
    assert e.identifiers is None  # raw values are not kept
    assert e.hashed.phone_sha256 == hashed("phone", "+44 844 412 4653", "meta")
    assert set(e.consent_decision["destinations"]) >= ADS
    assert e.consent_decision["applied"] == ["personal_data_hashed"]


def test_ad_user_data_denied_stores_ads_data_but_lists_no_ads_destination() -> None:
    consent = Consent(ad_storage="granted", analytics_storage="granted", ad_user_data="denied")
    e = gate().apply(event(consent), "DE")
    assert e is not None and e.consent_decision is not None
    assert not ADS & set(e.consent_decision["destinations"])
    assert "ga4" in e.consent_decision["destinations"]


def test_gpc_denies_ads() -> None:
    e = gate().apply(event(Consent(gpc=True)), "US")
    assert e is not None and e.consent_decision is not None
    assert_no_ad_data(e)
    assert e.anonymous_id == "anon-1"  # analytics is not an ad signal
    assert "gpc" in e.consent_decision["reasons"]


def test_a_tcf_string_decides() -> None:
    granted = gate().apply(event(Consent(tcf=VECTOR)), "DE")
    assert granted is not None and granted.campaign.gclid == "Cj0-click"
    assert granted.consent_decision is not None
    assert "tcf.ad_storage=granted" in granted.consent_decision["reasons"]
    broken = gate().apply(event(Consent(tcf="not-a-tc-string")), "US")
    assert broken is not None and broken.consent_decision is not None
    assert_no_ad_data(broken)
    assert broken.consent_decision["tcf_error"]


def test_both_purposes_nothing_is_not_stored() -> None:
    g = gate(consent_analytics_when_denied="nothing")
    assert g.apply(event(), "FR") is None
    assert g.apply(event(), "US") is not None


def test_ip_truncation_always_and_opt_in_regions_from_settings() -> None:
    e = gate(ip_truncation="always", consent_opt_in_regions="BR").apply(event(), "US")
    assert e is not None and e.context.ip == "203.0.113.0" and e.campaign.gclid == "Cj0-click"
    br = gate(consent_opt_in_regions="BR").apply(event(), "BR")
    assert br is not None and br.campaign.gclid is None


def test_unknown_region_follows_the_setting() -> None:
    kept = gate().apply(event(), None)  # default: silence outside opt-in regions is granted
    assert kept is not None and kept.campaign.gclid == "Cj0-click"
    denied = gate(consent_unknown_region="denied").apply(event(), None)
    assert denied is not None and denied.campaign.gclid is None


def test_decisions_are_cached_per_signals_and_region() -> None:
    g = gate()
    assert g.outcome(Consent(gpc=True), "US") is g.outcome(Consent(gpc=True), "US")
    assert g.outcome(Consent(gpc=True), "US") is not g.outcome(Consent(gpc=True), "DE")
    assert g.outcome(None, "US") is not g.outcome(Consent(ad_storage="denied"), "US")


@pytest.mark.parametrize(
    ("raw", "region"),
    [(b"de", "DE"), (b"UK", "GB"), (b"XX", None), (b"T1", None), (b"", None), (b"USA", None)],
)
def test_region_header_values(raw: bytes, region: str | None) -> None:
    assert gate().region(raw) == region
    assert valid_region(raw.decode()) == region
    assert gate(default_region="US").region(raw) == (region or "US")


def test_explain_record_says_what_was_done() -> None:
    e = gate().apply(event(), "DE")
    assert e is not None and e.consent_decision is not None
    text = explain_record(e.consent_decision)
    assert "Analytics data is stored without persistent identifiers." in text
    assert "Ads data is not stored." in text
    assert "default for region DE applies: denied" in text
    assert "Click ids and the Meta browser ids (fbc, fbp) were not stored." in text
    assert "The IP address was truncated" in text


# --- per-platform hashes ------------------------------------------------------------------


def test_stored_hashes_equal_the_spec_vectors() -> None:
    ids = Identifiers(email="  Person@Example.COM ", phone="+44 844 412 4653")
    meta = platform_identifiers(pii_hashes(ids), "meta")
    assert meta["email"] == "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"
    assert meta["phone"].startswith("dc008fda46e2e640")
    google = platform_identifiers(
        pii_hashes(Identifiers(email=" Jane.Doe@Example.com ", phone="+12125550000")), "google"
    )
    assert google["email"] == "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    assert google["phone"].startswith("7c8d08bf") and google["phone"].endswith("125e")


def test_every_platform_gets_exactly_its_own_hashes() -> None:
    ids = Identifiers(
        email="Jane.Doe@gmail.com", phone="(800) 555-0100", first_name="Mrs. Jane",
        last_name="O'Brien", city="New York", state="NY", zip="10001-1234", country="us",
        date_of_birth="1990-02-03", gender="Female", external_id=" CRM-42 ",
    )  # fmt: skip
    pii = pii_hashes(ids, "US")
    assert pii["email"]["google"] != pii["email"]["*"]  # gmail dots: Google's rule only
    for platform in PLATFORMS:
        got = platform_identifiers(pii, platform)
        want = {
            f: h
            for f in pii
            if is_hashed(f, platform) and (h := hashed(f, getattr(ids, f), platform, region="US"))
        }
        assert got == want, platform
    assert "city" not in platform_identifiers(pii, "google")  # Google takes it in plaintext


def test_an_invalid_value_for_one_platform_is_not_borrowed_from_another() -> None:
    # Too short for Meta and Pinterest (the platforms that hash a zip): nothing is stored.
    assert pii_hashes(Identifiers(zip="1"), "DE") == {}
    pii = {"zip": {"*": "", "meta": "ab" * 32}}
    assert platform_identifiers(pii, "pinterest") == {}
    assert platform_identifiers(pii, "meta") == {"zip": "ab" * 32}


def test_settings_validate_the_consent_values() -> None:
    for bad in (
        {"consent_ads_when_denied": "some"},
        {"consent_unknown_region": "maybe"},
        {"consent_opt_in_regions": "DE,FRA"},
        {"default_region": "Germany"},
        {"ip_truncation": "sometimes"},
    ):
        with pytest.raises(Exception, match=next(iter(bad))):
            dataclasses.replace(Settings(), **bad).validate()
