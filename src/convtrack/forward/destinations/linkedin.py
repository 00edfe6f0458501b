"""LinkedIn Conversions API (specs/more-conversion-apis.md §3.2), sent as BATCH_CREATE."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from convtrack.forward.destination import (
    Destination,
    DestinationConfig,
    HttpRequest,
    Outcome,
    register,
)
from convtrack.forward.model import ForwardEvent
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body, plain

#: LinkedIn-Version header (YYYYMM) when CONVTRACK_LINKEDIN_API_VERSION is unset
DEFAULT_VERSION = "202410"


def user_ids(event: ForwardEvent) -> list[dict[str, str]]:
    ids = []
    if email := hashed(event, "email"):
        ids.append({"idType": "SHA256_EMAIL", "idValue": email})
    if li_fat_id := event.click_ids.get("li_fat_id"):
        ids.append({"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": li_fat_id})
    return ids


def user_info(event: ForwardEvent) -> dict[str, str] | None:
    """Plain-text names (LinkedIn matches them unhashed); sent only as a first+last pair."""
    first, last = plain(event, "first_name"), plain(event, "last_name")
    if not (first and last):
        return None
    country = plain(event, "country")
    return compact({"firstName": first, "lastName": last, "countryCode": country})


def rule_id(event: ForwardEvent, config: DestinationConfig) -> str:
    """The plan's ``platforms.linkedin.conversion_rule_id``, else the configured rule."""
    return event.event_name if event.event_name.isdigit() else config["CONVERSION_RULE_ID"]


@register
class LinkedIn(Destination):
    name = "linkedin"
    kind = "ads"
    max_batch = 5000
    max_age = timedelta(days=90)
    default_base_url = "https://api.linkedin.com"
    required_env = ("ACCESS_TOKEN", "CONVERSION_RULE_ID")
    optional_env = ("API_VERSION", "BASE_URL")
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if not user_ids(event) and not user_info(event):
            return "needs a hashed email, a li_fat_id or first and last name"
        return None

    def element(self, event: ForwardEvent, config: DestinationConfig) -> dict[str, Any]:
        value = None
        if event.value is not None and event.currency:
            value = {"currencyCode": event.currency.upper(), "amount": f"{event.value:.2f}"}
        return compact(
            {
                "conversion": f"urn:lla:llaPartnerConversion:{rule_id(event, config)}",
                "conversionHappenedAt": event.unix_millis,
                "conversionValue": value,
                "eventId": event.event_id,
                "user": compact({"userIds": user_ids(event), "userInfo": user_info(event)}),
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        body = {"elements": [self.element(e, config) for e in events]}
        headers = {
            **JSON_HEADERS,
            "Authorization": f"Bearer {config['ACCESS_TOKEN']}",
            "LinkedIn-Version": config.get("API_VERSION", DEFAULT_VERSION) or DEFAULT_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
            "X-RestLi-Method": "BATCH_CREATE",
        }
        url = f"{config.base_url}/rest/conversionEvents"
        ids = tuple(e.event_id for e in events)
        return HttpRequest("POST", url, headers, json_body(body), ids, config.secrets)

    def classify(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request: HttpRequest | None = None,
    ) -> Outcome:
        """A batch answers per element; non-2xx elements are reported as rejected."""
        outcome = super().classify(status, headers, body, request)
        if not outcome.delivered or request is None:
            return outcome
        try:
            elements = json.loads(body).get("elements", [])
        except (ValueError, AttributeError):
            return outcome
        rejected = {
            event_id: f"status {element.get('status')}: {element.get('message', '')}".strip()
            for event_id, element in zip(request.event_ids, elements, strict=False)
            if isinstance(element, dict) and not 200 <= int(element.get("status", 201)) < 300
        }
        if not rejected:
            return outcome
        return Outcome("delivered", status, message=outcome.message, rejected=rejected)
