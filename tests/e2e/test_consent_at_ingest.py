"""Consent applied at ingest, and personal data hashed at the edge, through a real server."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from convtrack.enrich.consent import DESTINATION_KINDS
from convtrack.enrich.pii import platform_identifiers

ADS = {name for name, kind in DESTINATION_KINDS.items() if kind == "ads"}
TCF_GRANTED = "CP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5wAgABALzAvOACAvMAA.IAAA.YAAAAAAAAAAA"
CLICK_COLUMNS = ("gclid", "fbclid", "msclkid", "ttclid", "fbc", "fbp")
HASH_COLUMNS = ("email_sha256", "phone_sha256", "external_id_sha256", "pii_hashed")
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)
# No default region: the trusted header tells where each visitor is.
CONSENT_ENV = {"CONVTRACK_REGION_HEADER": "cf-ipcountry", "CONVTRACK_DEFAULT_REGION": ""}


@pytest.fixture
def srv(new_server):
    return new_server(CONSENT_ENV)


def full_event(srv, **fields):
    base = {
        "context": {"ip": "203.0.113.77", "user_agent": UA},
        "user_id": "user-42",
        "session_id": "sess-42",
        "campaign": {
            "utm_source": "google",
            "gclid": "Cj0-e2e",
            "fbclid": "IwAR-e2e",
            "msclkid": "ms-1",
            "fbc": "fb.1.1714557600000.IwAR-e2e",
            "fbp": "fb.1.1714557600000.987",
        },
        "identifiers": {"email": "consent.e2e@example.test", "phone": "+1 650 253 0000"},
    }
    return srv.event(**(base | fields))


def post(srv, events, region=None, **headers):
    if region:
        headers["cf-ipcountry"] = region
    response = srv.post_events({"events": events}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def decision(row):
    return json.loads(row["consent_decision"])


def assert_no_ad_data(row):
    assert {c: row[c] for c in CLICK_COLUMNS} == dict.fromkeys(CLICK_COLUMNS)
    assert {c: row[c] for c in HASH_COLUMNS} == dict.fromkeys(HASH_COLUMNS)
    assert row["utm_source"] == "google"  # a campaign, not a person
    assert not ADS & set(decision(row)["destinations"])


def test_eea_without_a_signal_is_pseudonymous_without_ad_data(srv):
    event = full_event(srv)
    assert post(srv, [event], region="DE")["accepted"] == 1
    row = srv.event_row(event["event_id"])
    assert_no_ad_data(row)
    assert (row["anonymous_id"], row["user_id"], row["session_id"]) == (None, None, None)
    assert row["ip"] == "203.0.113.0" and row["user_agent"] == "Chrome/120 (Windows)"
    record = decision(row)
    assert (record["analytics"], record["ads"], record["region"]) == (
        "pseudonymous",
        "nothing",
        "DE",
    )
    out = srv.cli("privacy", "why", event["event_id"]).stdout  # through the running server
    assert "Analytics data is stored without persistent identifiers." in out
    assert "No signal for ad_storage, so the default for region DE applies: denied." in out
    assert "The IP address was truncated" in out


def test_a_granted_region_keeps_ids_and_hashes_per_platform(srv):
    event = full_event(srv)
    post(srv, [event], region="US")
    row = srv.event_row(event["event_id"])
    assert row["gclid"] == "Cj0-e2e" and row["fbp"] == "fb.1.1714557600000.987"
    assert row["anonymous_id"] == event["anonymous_id"] and row["ip"] == "203.0.113.77"
    assert row["phone_sha256"] == srv.sha256("16502530000")  # E.164 digits, Meta's rule
    pii = json.loads(row["pii_hashed"])
    assert platform_identifiers(pii, "meta")["phone"] == srv.sha256("16502530000")
    assert platform_identifiers(pii, "google")["phone"] == srv.sha256("+16502530000")
    assert platform_identifiers(pii, "meta")["email"] == srv.sha256("consent.e2e@example.test")
    assert set(decision(row)["destinations"]) >= ADS


def test_ad_user_data_denied_lists_no_ads_destination(srv):
    consent = {"ad_storage": "granted", "analytics_storage": "granted", "ad_user_data": "denied"}
    event = full_event(srv, consent=consent)
    post(srv, [event], region="FR")
    record = decision(srv.event_row(event["event_id"]))
    assert record["ads"] == "full" and not ADS & set(record["destinations"])
    assert "consent_mode.ad_user_data=denied" in record["reasons"]


def test_gpc_header_is_honoured(srv):
    event = full_event(srv)
    post(srv, [event], region="US", **{"sec-gpc": "1"})
    row = srv.event_row(event["event_id"])
    assert_no_ad_data(row)
    assert row["anonymous_id"] == event["anonymous_id"]  # analytics is not an ad signal
    assert "gpc" in decision(row)["reasons"]


def test_a_tcf_string_decides(srv):
    granted, silent = full_event(srv, consent={"tcf": TCF_GRANTED}), full_event(srv)
    post(srv, [granted, silent], region="IT")
    row = srv.event_row(granted["event_id"])
    assert row["gclid"] == "Cj0-e2e" and row["email_sha256"] is not None
    assert "tcf.ad_storage=granted" in decision(row)["reasons"]
    assert_no_ad_data(srv.event_row(silent["event_id"]))


def test_no_cookie_where_analytics_is_not_stored_in_full(srv):
    key = srv.create_key("web", secret=False)
    denied = srv.post_events(
        {"events": [srv.event(anonymous_id=None)]}, key=key, headers={"cf-ipcountry": "NL"}
    )
    assert denied.status_code == 200 and "set-cookie" not in denied.headers
    assert "anonymous_id" not in denied.json()
    granted = srv.post_events(
        {"events": [srv.event(anonymous_id=None)]}, key=key, headers={"cf-ipcountry": "CA"}
    )
    assert "ct_aid=" in granted.headers["set-cookie"]


def test_nothing_for_both_purposes_is_not_stored(new_server):
    srv = new_server(CONSENT_ENV | {"CONVTRACK_CONSENT_ANALYTICS_WHEN_DENIED": "nothing"})
    dropped, kept = full_event(srv), full_event(srv)
    assert post(srv, [dropped], region="SE") | {"warnings": []} == {
        "accepted": 0, "rejected": 0, "dropped": 1, "errors": [], "warnings": []
    }  # fmt: skip
    assert post(srv, [kept], region="US")["accepted"] == 1
    assert srv.id_counts([dropped["event_id"], kept["event_id"]]) == {kept["event_id"]: 1}


def test_pixel_hits_get_the_same_decision(srv):
    anon = srv.new_id("px-anon")
    srv.pixel(
        {"k": srv.create_key("px"), "e": "px_consent", "a": anon, "gclid": "Cj0-px",
         "em": "pixel.consent@example.test"},
        headers={"cf-ipcountry": "AT", "user-agent": UA},
    )  # fmt: skip
    srv.flush()
    rows = srv.sql("SELECT * FROM events WHERE event_name = 'px_consent'")
    assert len(rows) == 1
    assert rows[0]["anonymous_id"] is None and rows[0]["gclid"] is None
    assert rows[0]["email_sha256"] is None and decision(rows[0])["region"] == "AT"


# --- raw personal data never lands anywhere --------------------------------------------


EMAIL = "Leak.Check+E2E@Example-Mail.test"
PHONE = "+1 (650) 253-0001"
PHONE_FORMS = ("+1 (650) 253-0001", "16502530001", "+16502530001", "6502530001", "650-253-0001")


def text_columns(con):
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type IN ('VARCHAR', 'JSON') AND table_schema = 'main'"
    ).fetchall()
    return rows


def test_raw_email_and_phone_are_nowhere(srv):
    event = full_event(srv, identifiers={"email": EMAIL, "phone": PHONE})
    post(srv, [event], region="US")
    bad = srv.post_events({"events": [{**full_event(srv), "value": "x"}]})  # quarantined
    assert bad.status_code == 422
    row = srv.event_row(event["event_id"])
    assert row["email_sha256"] == srv.sha256(EMAIL.lower()) and row["phone_sha256"]
    why = srv.cli("privacy", "why", event["event_id"]).stdout
    needles = [EMAIL, EMAIL.lower(), *PHONE_FORMS]
    for needle in needles:
        assert needle not in why
    assert srv.stop() == 0
    out = srv.cli("privacy", "why", event["event_id"]).stdout  # without the server
    assert "Ads data is stored in full." in out
    data: Path = srv.data_dir
    con = duckdb.connect(str(data / "convtrack.duckdb"), read_only=True)
    try:
        columns = text_columns(con)
        assert ("events", "pii_hashed") in columns and ("quarantine", "payload") in columns
        for table, column in columns:
            for needle in needles:
                hits = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE '  # noqa: S608 (our own names)
                    f'strpos(lower(CAST("{column}" AS VARCHAR)), lower(?)) > 0',
                    [needle],
                ).fetchone()
                assert hits == (0,), (table, column, needle)
    finally:
        con.close()
    files = [p for p in data.iterdir() if p.name.startswith("convtrack.duckdb")]
    assert any(p.suffix == ".duckdb" for p in files)
    logs = [p.read_bytes() for p in srv.root.glob("serve-*.log")]
    for blob in [p.read_bytes() for p in files] + logs:
        for needle in needles:
            for form in {needle, needle.lower()}:
                assert form.encode() not in blob
                assert form.encode("utf-16-le") not in blob
