"""Google Ads conversions through the Data Manager API ``events:ingest``.

specs/more-conversion-apis.md §1. One destination (operating account + conversion action) per
request; hashed identifiers are hex (``encoding: HEX``); the API fails the whole request on one
bad record, so events are checked here first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from convtrack.forward.destination import (
    Destination,
    DestinationConfig,
    HttpRequest,
    probe,
    register,
)
from convtrack.forward.model import ForwardEvent
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body, money, plain

CONSENT = {"granted": "CONSENT_GRANTED", "denied": "CONSENT_DENIED"}
EVENT_SOURCES = {
    "web": "WEB",
    "website": "WEB",
    "app": "APP",
    "store": "IN_STORE",
    "physical_store": "IN_STORE",
    "offline": "IN_STORE",
    "phone": "PHONE",
    "phone_call": "PHONE",
    "chat": "MESSAGE",
    "business_messaging": "MESSAGE",
}
#: the Ads API forbids several click ids on one conversion; the first present one is sent
CLICK_ID_ORDER = ("gclid", "gbraid", "wbraid")
MAX_IDENTIFIERS = 10


def ad_identifiers(event: ForwardEvent) -> dict[str, Any]:
    for key in CLICK_ID_ORDER:
        if event.click_ids.get(key):
            return {key: event.click_ids[key]}
    return {}


def address(event: ForwardEvent) -> dict[str, str] | None:
    """``AddressInfo``: hashed names, plain region and postal code; all four or nothing."""
    given, family = hashed(event, "first_name"), hashed(event, "last_name")
    region, postal = plain(event, "country"), plain(event, "zip")
    if not (given and family and region and postal):
        return None
    return {
        "givenName": given,
        "familyName": family,
        "regionCode": region.upper(),
        "postalCode": postal,
    }


def user_identifiers(event: ForwardEvent) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if email := hashed(event, "email"):
        found.append({"emailAddress": email})
    if phone := hashed(event, "phone"):
        found.append({"phoneNumber": phone})
    if addr := address(event):
        found.append({"address": addr})
    return found[:MAX_IDENTIFIERS]


@register
class GoogleDataManager(Destination):
    name = "google_dm"
    kind = "ads"
    max_batch = 2000
    max_age = None  # the click-through window of the conversion action decides (async error)
    default_base_url = "https://datamanager.googleapis.com"
    required_env = ("ACCESS_TOKEN", "OPERATING_ACCOUNT_ID")
    optional_env = (
        "CONVERSION_ACTION_ID",
        "OPERATING_ACCOUNT_TYPE",
        "LOGIN_ACCOUNT_ID",
        "LOGIN_ACCOUNT_TYPE",
        "VALIDATE_ONLY",
        "BASE_URL",
    )
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)
    supports_adjustments = True
    adjustment_types = frozenset({"restatement"})
    needs_original = True  # an unmatched transactionId would create a new conversion
    adjustments_doc = (
        "Restatements: the same transactionId (the original order id) is sent again with the "
        "new value, the original conversion's identifiers and time. Refunds and cancellations "
        "(retractions) are not supported by the Data Manager API, and a zero value does not "
        "retract. An unknown transactionId creates a new conversion, so a restatement waits "
        "until its original is stored."
    )

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if not conversion_action(event, config):
            return "no conversion action: plan platforms.google or CONVERSION_ACTION_ID"
        if not ad_identifiers(event) and not user_identifiers(event):
            return "no gclid/gbraid/wbraid and no hashed email, phone or address"
        if event.kind == "adjustment" and not event.adjusted_order_id:
            return "a restatement needs the original order id (transactionId)"
        return None

    def group(self, events: list[ForwardEvent]) -> list[list[ForwardEvent]]:
        """One conversion action per request (the request's one destination)."""
        groups: dict[str, list[ForwardEvent]] = {}
        for event in events:
            groups.setdefault(str(event.properties.get("conversion_action_id", "")), []).append(
                event
            )
        return list(groups.values())

    def destination(self, config: DestinationConfig, action: str) -> dict[str, Any]:
        login = config.get("LOGIN_ACCOUNT_ID")
        return compact(
            {
                "operatingAccount": {
                    "accountType": config.get("OPERATING_ACCOUNT_TYPE", "GOOGLE_ADS"),
                    "accountId": digits(config["OPERATING_ACCOUNT_ID"]),
                },
                "loginAccount": {
                    "accountType": config.get("LOGIN_ACCOUNT_TYPE", "GOOGLE_ADS"),
                    "accountId": digits(login),
                }
                if login
                else None,
                "productDestinationId": action,
            }
        )

    def event(self, event: ForwardEvent) -> dict[str, Any]:
        transaction = event.adjusted_order_id if event.kind == "adjustment" else None
        original = event.original
        items = [
            compact(
                {
                    "merchantProductId": c.get("id"),
                    "quantity": str(c["quantity"]) if c.get("quantity") is not None else None,
                    "unitPrice": money(c.get("item_price")),
                }
            )
            for c in event.contents
        ]
        consent = compact(
            {
                "adUserData": CONSENT.get(event.consent_of("ad_user_data") or ""),
                "adPersonalization": CONSENT.get(event.consent_of("ad_personalization") or ""),
            }
        )
        identifiers = user_identifiers(event)
        return compact(
            {
                "transactionId": transaction or event.order_id or event.event_id,
                # a restatement keeps the original conversion's time; its own is the update's
                "eventTimestamp": original.rfc3339 if original else event.rfc3339,
                "lastUpdatedTimestamp": event.rfc3339 if original else None,
                "adIdentifiers": ad_identifiers(event),
                "userData": {"userIdentifiers": identifiers} if identifiers else None,
                "consent": consent,
                "conversionValue": money(event.value),
                "currency": event.currency.upper() if event.currency else None,
                "eventSource": EVENT_SOURCES.get(event.source, "OTHER"),
                "eventDeviceInfo": compact(
                    {"userAgent": event.user_agent, "ipAddress": event.client_ip}
                ),
                "cartData": {"items": items} if items else None,
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        return self.request(
            [self.event(e) for e in events],
            config,
            str(conversion_action(events[0], config)),
            config.flag("VALIDATE_ONLY"),
            tuple(e.event_id for e in events),
        )

    def request(
        self,
        events: list[dict[str, Any]],
        config: DestinationConfig,
        action: str,
        validate_only: bool,
        ids: tuple[str, ...],
    ) -> HttpRequest:
        body: dict[str, Any] = {
            "destinations": [self.destination(config, action)],
            "events": events,
        }
        if any("userData" in e for e in events):
            body["encoding"] = "HEX"
        body["validateOnly"] = validate_only
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {config['ACCESS_TOKEN']}"}
        url = f"{config.base_url}/v1/events:ingest"
        return HttpRequest("POST", url, headers, json_body(body), ids, config.secrets)

    def test_request(self, config: DestinationConfig) -> HttpRequest:
        action = config.needed("CONVERSION_ACTION_ID", "to test a destination")
        event = probe("test", ("email", b"test@example.com"), consent={"ad_user_data": "granted"})
        return self.request([self.event(event)], config, action, True, (event.event_id,))

    def error_message(self, status: int, body: bytes) -> str:
        if status < 300:
            return ""
        try:
            error = json.loads(body).get("error", {})
        except (ValueError, AttributeError):
            return body.decode("utf-8", "replace")
        reasons = [
            d.get("reason")
            for d in error.get("details", [])
            if isinstance(d, dict) and d.get("reason")
        ]
        head = " ".join(str(x) for x in [error.get("status"), *reasons] if x)
        return f"{head}: {error.get('message', '')}" if head else str(error.get("message", ""))


def conversion_action(event: ForwardEvent, config: DestinationConfig) -> str | None:
    """The plan's ``platforms.google.conversion_action_id``, else the configured default."""
    action = event.properties.get("conversion_action_id") or config.get("CONVERSION_ACTION_ID")
    return str(action) if action else None


def digits(account_id: str | None) -> str | None:
    """Account ids are digits only (``123-456-7890`` → ``1234567890``)."""
    return "".join(ch for ch in account_id if ch.isdigit()) if account_id else None
