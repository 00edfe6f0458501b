"""Per-platform request checks used by the fake endpoints (tests/forward/fakes.py).

Each validator reads one request the way the platform would, following the specs in
/work/shared/specs, and returns the problems it found plus the dedupe keys of the events it
would record. They are deliberately written from the spec, not from the destination code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX64_ANY_CASE = re.compile(r"^[0-9a-fA-F]{64}$")
TOKEN = "fake-token-0123456789"
SECRET = "fake-secret-abcdef"
PIXEL = "1234567890"
DAY = 86_400
FUTURE_SLACK = 300


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    body: Any = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Verdict:
    errors: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    #: per-event errors for platforms that answer per element (LinkedIn)
    per_event: dict[int, str] = field(default_factory=dict)
    record: bool = True

    def need(self, ok: bool, message: str) -> None:
        if not ok:
            self.errors.append(message)


def hex_list(v: Verdict, where: str, value: Any) -> None:
    v.need(isinstance(value, list) and len(value) > 0, f"{where} must be a non-empty array")
    for item in value if isinstance(value, list) else []:
        v.need(isinstance(item, str) and bool(HEX64.match(item)), f"{where} item is not sha256 hex")


def hex_value(v: Verdict, where: str, value: Any, pattern: re.Pattern[str] = HEX64) -> None:
    v.need(isinstance(value, str) and bool(pattern.match(value)), f"{where} is not sha256 hex")


def not_hashed(v: Verdict, where: str, value: Any) -> None:
    v.need(isinstance(value, str) and not HEX64_ANY_CASE.match(value), f"{where} must be plain")


def seconds_fresh(v: Verdict, where: str, value: Any, max_age_days: float | None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value < 10**11
    v.need(ok, f"{where} must be integer unix seconds")
    if ok and max_age_days is not None:
        v.need(value >= time.time() - max_age_days * DAY, f"{where} older than {max_age_days} days")
    if ok:
        v.need(value <= time.time() + FUTURE_SLACK, f"{where} is in the future")


def millis_fresh(v: Verdict, where: str, value: Any, max_age_days: float | None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 10**11
    v.need(ok, f"{where} must be integer unix milliseconds")
    if ok:
        seconds_fresh(v, where, value // 1000, max_age_days)


def events_list(v: Verdict, container: Any, key: str, limit: int) -> list[Any]:
    events = container.get(key) if isinstance(container, dict) else None
    v.need(isinstance(events, list) and 1 <= len(events) <= limit, f"{key} must hold 1..{limit}")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


# -- Meta ------------------------------------------------------------------------------------
META_HASHED = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id")
META_PLAIN = ("client_ip_address", "client_user_agent", "fbc", "fbp")
META_SOURCES = {
    "website", "app", "email", "phone_call", "chat", "physical_store",
    "system_generated", "business_messaging", "other",
}  # fmt: skip
META_CONTENT_KEYS = {
    "id", "quantity", "item_price", "title", "description", "brand", "category",
    "delivery_category",
}  # fmt: skip


def meta(req: Received) -> Verdict:
    v = Verdict()
    v.need(req.method == "POST", "POST only")
    v.need(req.path == f"/v26.0/{PIXEL}/events", f"bad path {req.path}")
    v.need(req.query.get("access_token") == TOKEN, "access_token missing or wrong")
    for i, ev in enumerate(events_list(v, req.body, "data", 1000)):
        w = f"data[{i}]"
        v.need(isinstance(ev.get("event_name"), str), f"{w}.event_name required")
        seconds_fresh(v, f"{w}.event_time", ev.get("event_time"), 7)
        v.need(ev.get("action_source") in META_SOURCES, f"{w}.action_source invalid")
        user = ev.get("user_data")
        v.need(isinstance(user, dict) and bool(user), f"{w}.user_data required")
        user = user if isinstance(user, dict) else {}
        if ev.get("action_source") == "website":
            v.need("client_user_agent" in user, f"{w} website needs client_user_agent")
            v.need(isinstance(ev.get("event_source_url"), str), f"{w} website needs source url")
        for key in META_HASHED:
            if key in user:
                hex_list(v, f"{w}.user_data.{key}", user[key])
        for key in META_PLAIN:
            if key in user:
                not_hashed(v, f"{w}.user_data.{key}", user[key])
        for key in ("fbc", "fbp"):
            if key in user:
                parts = str(user[key]).split(".")
                v.need(parts[0] == "fb" and len(parts) in (4, 5), f"{w}.{key} malformed")
        unknown = set(user) - set(META_HASHED) - set(META_PLAIN)
        v.need(not unknown, f"{w}.user_data unknown keys {sorted(unknown)}")
        custom = ev.get("custom_data", {})
        for c in custom.get("contents", []):
            v.need(set(c) <= META_CONTENT_KEYS, f"{w}.custom_data.contents keys {sorted(c)}")
        if "currency" in custom:
            v.need(re.fullmatch(r"[A-Za-z]{3}", custom["currency"]) is not None, "bad currency")
        v.keys.append(str(ev.get("event_id")))
    v.record = not req.body.get("test_event_code") if isinstance(req.body, dict) else True
    return v


# -- Google Data Manager ---------------------------------------------------------------------
ACCOUNT_TYPES = {
    "GOOGLE_ADS", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER", "DATA_PARTNER",
    "GOOGLE_ANALYTICS_PROPERTY", "GOOGLE_AD_MANAGER_AUDIENCE_LINK", "FLOODLIGHT_CONFIG",
    "GOOGLE_AD_MANAGER",
}  # fmt: skip
DM_CONSENT = {"CONSENT_GRANTED", "CONSENT_DENIED", "CONSENT_STATUS_UNSPECIFIED"}
DM_SOURCES = {"WEB", "APP", "IN_STORE", "PHONE", "MESSAGE", "OTHER"}


def google_dm(req: Received) -> Verdict:
    v = Verdict()
    body = req.body if isinstance(req.body, dict) else {}
    v.need(req.method == "POST" and req.path == "/v1/events:ingest", f"bad path {req.path}")
    v.need(req.header("Authorization") == f"Bearer {TOKEN}", "bad Authorization")
    dests = body.get("destinations")
    v.need(isinstance(dests, list) and 1 <= len(dests) <= 10, "destinations must hold 1..10")
    for d in dests if isinstance(dests, list) else []:
        acct = d.get("operatingAccount", {})
        v.need(acct.get("accountType") in ACCOUNT_TYPES, "operatingAccount.accountType invalid")
        v.need(str(acct.get("accountId", "")).isdigit(), "operatingAccount.accountId not digits")
        v.need(bool(d.get("productDestinationId")), "productDestinationId required")
    events = events_list(v, body, "events", 2000)
    if any("userData" in e for e in events):
        v.need(body.get("encoding") == "HEX", "encoding HEX required with userData")
    for i, ev in enumerate(events):
        w = f"events[{i}]"
        try:
            datetime.fromisoformat(str(ev.get("eventTimestamp")).replace("Z", "+00:00"))
        except ValueError:
            v.errors.append(f"{w}.eventTimestamp not RFC 3339")
        ads = ev.get("adIdentifiers", {})
        v.need(not ("gbraid" in ads and "wbraid" in ads), f"{w} GBRAID_WBRAID_BOTH_SET")
        ids = ev.get("userData", {}).get("userIdentifiers", [])
        v.need(len(ids) <= 10, f"{w} more than 10 identifiers")
        v.need(bool(ads) or bool(ids), f"{w} NO_IDENTIFIERS_PROVIDED")
        for ident in ids:
            v.need(len(ident) == 1, f"{w} identifier must set exactly one field")
            for key in ("emailAddress", "phoneNumber"):
                if key in ident:
                    hex_value(v, f"{w}.{key}", ident[key], HEX64_ANY_CASE)
            if "address" in ident:
                a = ident["address"]
                for key in ("givenName", "familyName"):
                    hex_value(v, f"{w}.address.{key}", a.get(key), HEX64_ANY_CASE)
                v.need(re.fullmatch(r"[A-Z]{2}", str(a.get("regionCode"))) is not None, "region")
                not_hashed(v, f"{w}.address.postalCode", a.get("postalCode"))
        for key in ("adUserData", "adPersonalization"):
            if key in ev.get("consent", {}):
                v.need(ev["consent"][key] in DM_CONSENT, f"{w}.consent.{key} invalid")
        if "currency" in ev:
            v.need(re.fullmatch(r"[A-Z]{3}", ev["currency"]) is not None, f"{w} currency")
        v.need(ev.get("eventSource", "WEB") in DM_SOURCES, f"{w}.eventSource invalid")
        v.keys.append(str(ev.get("transactionId")))
    v.record = body.get("validateOnly") is not True
    return v


# -- GA4 Measurement Protocol ----------------------------------------------------------------
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
GA4_CONSENT = {"GRANTED", "DENIED"}


def ga4(req: Received) -> Verdict:
    v = Verdict()
    debug = req.path == "/debug/mp/collect"
    v.need(req.method == "POST" and (debug or req.path == "/mp/collect"), f"bad path {req.path}")
    v.need(req.query.get("measurement_id") == "G-FAKE123", "measurement_id missing or wrong")
    if not debug:
        v.need(req.query.get("api_secret") == SECRET, "api_secret missing or wrong")
    v.need(len(req.raw) < 130_000, "body too large")
    body = req.body if isinstance(req.body, dict) else {}
    v.need(isinstance(body.get("client_id"), str), "client_id required")
    if "timestamp_micros" in body:
        seconds_fresh(v, "timestamp_micros", body["timestamp_micros"] // 1_000_000, 3)
    for key, value in body.get("consent", {}).items():
        v.need(value in GA4_CONSENT, f"consent.{key} invalid")
    ud = body.get("user_data", {})
    for key in ("sha256_email_address", "sha256_phone_number"):
        if key in ud:
            hex_list(v, f"user_data.{key}", ud[key])
    for addr in ud.get("address", []):
        for key, value in addr.items():
            (hex_value if key.startswith("sha256_") else not_hashed)(v, f"address.{key}", value)
    for i, ev in enumerate(events_list(v, body, "events", 25)):
        name, params = ev.get("name", ""), ev.get("params", {})
        v.need(bool(GA4_NAME.match(name)), f"events[{i}].name invalid")
        v.need(len(params) <= 25, f"events[{i}] more than 25 params")
        if "value" in params:
            v.need("currency" in params, f"events[{i}] value needs currency")
            v.need("transaction_id" in params, f"events[{i}] value needs transaction_id")
        for item in params.get("items", []):
            v.need("item_id" in item or "item_name" in item, f"events[{i}] item needs an id")
        v.keys.append(str(params.get("transaction_id", name)))
    v.record = not debug
    return v


# -- TikTok ----------------------------------------------------------------------------------
def tiktok(req: Received) -> Verdict:
    v = Verdict()
    body = req.body if isinstance(req.body, dict) else {}
    v.need(req.path == "/open_api/v1.3/event/track/", f"bad path {req.path}")
    v.need(req.header("Access-Token") == TOKEN, "Access-Token missing or wrong")
    v.need(body.get("event_source") in {"web", "app", "offline", "crm"}, "event_source invalid")
    v.need(body.get("event_source_id") == "CFAKEPIXEL", "event_source_id wrong")
    for i, ev in enumerate(events_list(v, body, "data", 1000)):
        w = f"data[{i}]"
        v.need(isinstance(ev.get("event"), str), f"{w}.event required")
        seconds_fresh(v, f"{w}.event_time", ev.get("event_time"), None)
        user = ev.get("user", {})
        for key in ("email", "phone", "external_id"):
            if key in user:
                hex_value(v, f"{w}.user.{key}", user[key])
        for key in ("ttclid", "ttp", "ip", "user_agent"):
            if key in user:
                not_hashed(v, f"{w}.user.{key}", user[key])
        v.keys.append(str(ev.get("event_id")))
    v.record = not body.get("test_event_code")
    return v


# -- LinkedIn --------------------------------------------------------------------------------
LI_ID_TYPES = {
    "SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID",
}  # fmt: skip


def linkedin(req: Received) -> Verdict:
    v = Verdict()
    v.need(req.path == "/rest/conversionEvents", f"bad path {req.path}")
    v.need(req.header("Authorization") == f"Bearer {TOKEN}", "bad Authorization")
    v.need(re.fullmatch(r"\d{6}", req.header("LinkedIn-Version") or "") is not None, "version")
    v.need(req.header("X-Restli-Protocol-Version") == "2.0.0", "X-Restli-Protocol-Version")
    v.need(req.header("X-RestLi-Method") == "BATCH_CREATE", "X-RestLi-Method BATCH_CREATE")
    for i, el in enumerate(events_list(v, req.body, "elements", 5000)):
        e = Verdict()
        e.need(str(el.get("conversion", "")).startswith("urn:lla:llaPartnerConversion:"), "urn")
        millis_fresh(e, "conversionHappenedAt", el.get("conversionHappenedAt"), 90)
        if "conversionValue" in el:
            e.need(isinstance(el["conversionValue"].get("amount"), str), "amount is a string")
        user = el.get("user", {})
        e.need(bool(user.get("userIds") or user.get("userInfo")), "user ids or info required")
        for uid in user.get("userIds", []):
            e.need(uid.get("idType") in LI_ID_TYPES, "idType invalid")
            if uid.get("idType") == "SHA256_EMAIL":
                hex_value(e, "SHA256_EMAIL", uid.get("idValue"))
        for key in ("firstName", "lastName"):
            if key in user.get("userInfo", {}):
                not_hashed(e, f"userInfo.{key}", user["userInfo"][key])
        if e.errors:
            v.per_event[i] = "; ".join(e.errors)
        else:
            v.keys.append(str(el.get("eventId")))
    return v


# -- Snapchat --------------------------------------------------------------------------------
def snapchat(req: Received) -> Verdict:
    v = Verdict()
    v.need(req.path == f"/v3/{PIXEL}/events", f"bad path {req.path}")
    v.need(req.query.get("access_token") == TOKEN, "access_token missing or wrong")
    for i, ev in enumerate(events_list(v, req.body, "data", 2000)):
        w = f"data[{i}]"
        seconds_fresh(v, f"{w}.event_time", ev.get("event_time"), 37)
        v.need(ev.get("action_source") in {"WEB", "MOBILE_APP", "OFFLINE"}, f"{w} action_source")
        user = ev.get("user_data", {})
        for key in ("em", "ph"):
            if key in user:
                hex_list(v, f"{w}.user_data.{key}", user[key])
        for key in ("client_ip_address", "client_user_agent", "sc_click_id"):
            if key in user:
                not_hashed(v, f"{w}.user_data.{key}", user[key])
        v.keys.append(str(ev.get("event_id")))
    return v


# -- Pinterest -------------------------------------------------------------------------------
PIN_EVENTS = {
    "add_to_cart", "checkout", "custom", "lead", "page_visit", "search", "signup",
    "view_category", "watch_video",
}  # fmt: skip
PIN_HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")


def pinterest(req: Received) -> Verdict:
    v = Verdict()
    v.need(req.path == "/v5/ad_accounts/549755885175/events", f"bad path {req.path}")
    v.need(req.header("Authorization") == f"Bearer {TOKEN}", "bad Authorization")
    for i, ev in enumerate(events_list(v, req.body, "data", 1000)):
        w = f"data[{i}]"
        v.need(ev.get("event_name") in PIN_EVENTS, f"{w}.event_name invalid")
        v.need(ev.get("action_source") in {"app_android", "app_ios", "web", "offline"}, w)
        seconds_fresh(v, f"{w}.event_time", ev.get("event_time"), None)
        user = ev.get("user_data", {})
        for key in PIN_HASHED:
            if key in user:
                hex_list(v, f"{w}.user_data.{key}", user[key])
        ip_ua = "client_ip_address" in user and "client_user_agent" in user
        v.need("em" in user or "hashed_maids" in user or ip_ua, f"{w} needs em, maids or ip+UA")
        if "value" in ev.get("custom_data", {}):
            v.need(isinstance(ev["custom_data"]["value"], str), f"{w} value must be a string")
        v.keys.append(str(ev.get("event_id")))
    v.record = req.query.get("test") != "true"
    return v


# -- Reddit ----------------------------------------------------------------------------------
RDT_TYPES = {
    "PURCHASE", "PAGE_VISIT", "VIEW_CONTENT", "SEARCH", "ADD_TO_CART", "ADD_TO_WISHLIST",
    "LEAD", "SIGN_UP", "CUSTOM",
}  # fmt: skip


def reddit(req: Received) -> Verdict:
    v = Verdict()
    v.need(req.path == f"/api/v3/pixels/{PIXEL}/conversion_events", f"bad path {req.path}")
    v.need(req.header("Authorization") == f"Bearer {TOKEN}", "bad Authorization")
    data = req.body.get("data") if isinstance(req.body, dict) else None
    for i, ev in enumerate(events_list(v, data, "events", 1000)):
        w = f"events[{i}]"
        millis_fresh(v, f"{w}.event_at", ev.get("event_at"), 7)
        v.need(ev.get("action_source") == "WEBSITE", f"{w}.action_source")
        kind = ev.get("type", {})
        v.need(kind.get("tracking_type") in RDT_TYPES, f"{w}.type.tracking_type invalid")
        if kind.get("tracking_type") == "CUSTOM":
            v.need(bool(kind.get("custom_event_name")), f"{w} CUSTOM needs custom_event_name")
        meta_ = ev.get("metadata", {})
        if "value" in meta_:
            v.need(isinstance(meta_["value"], str), f"{w}.metadata.value must be a string")
        user = ev.get("user", {})
        for key in ("email", "phone_number", "external_id", "ip_address"):
            if key in user:
                hex_value(v, f"{w}.user.{key}", user[key])
        if "user_agent" in user:
            not_hashed(v, f"{w}.user.user_agent", user["user_agent"])
        v.keys.append(str(meta_.get("conversion_id")))
    return v


# -- Webhook ---------------------------------------------------------------------------------
def webhook(req: Received) -> Verdict:
    v = Verdict()
    timestamp = req.header("X-Convtrack-Timestamp") or ""
    signed = timestamp.encode() + b"." + req.raw
    expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    v.need(hmac.compare_digest(req.header("X-Convtrack-Signature") or "", expected), "signature")
    v.need(timestamp.isdigit(), "timestamp header")
    for ev in events_list(v, req.body, "events", 10_000):
        v.keys.append(str(ev.get("event_id")))
    return v


VALIDATORS: Mapping[str, Callable[[Received], Verdict]] = {
    "meta": meta,
    "google_dm": google_dm,
    "ga4": ga4,
    "tiktok": tiktok,
    "linkedin": linkedin,
    "snapchat": snapchat,
    "pinterest": pinterest,
    "reddit": reddit,
    "webhook": webhook,
}

#: CONVTRACK_<NAME>_* values (besides BASE_URL) that match what the validators expect
ENV: Mapping[str, dict[str, str]] = {
    "meta": {"PIXEL_ID": PIXEL, "ACCESS_TOKEN": TOKEN},
    "google_dm": {
        "ACCESS_TOKEN": TOKEN,
        "OPERATING_ACCOUNT_ID": "123-456-7890",
        "LOGIN_ACCOUNT_ID": "9876543210",
        "CONVERSION_ACTION_ID": "987654321",
    },
    "ga4": {"MEASUREMENT_ID": "G-FAKE123", "API_SECRET": SECRET},
    "tiktok": {"PIXEL_CODE": "CFAKEPIXEL", "ACCESS_TOKEN": TOKEN},
    "linkedin": {"ACCESS_TOKEN": TOKEN, "CONVERSION_RULE_ID": "104012"},
    "snapchat": {"PIXEL_ID": PIXEL, "ACCESS_TOKEN": TOKEN},
    "pinterest": {"AD_ACCOUNT_ID": "549755885175", "ACCESS_TOKEN": TOKEN},
    "reddit": {"PIXEL_ID": PIXEL, "ACCESS_TOKEN": TOKEN},
    "webhook": {"SECRET": SECRET},
}


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
