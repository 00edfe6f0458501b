"""Reddit Conversions API v3 (specs/more-conversion-apis.md §3.5).

Reddit wants the IP address hashed too. ``client_ip`` is not part of ``user_data``, so it is the
one value a destination hashes itself (SHA-256 hex of the address as captured).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from convtrack.forward.destination import Destination, DestinationConfig, HttpRequest, register
from convtrack.forward.model import ForwardEvent
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body

TRACKING_TYPES = frozenset(
    [
        "PURCHASE",
        "PAGE_VISIT",
        "VIEW_CONTENT",
        "SEARCH",
        "ADD_TO_CART",
        "ADD_TO_WISHLIST",
        "LEAD",
        "SIGN_UP",
    ]
)


def tracking_type(name: str) -> dict[str, str]:
    if name.upper() in TRACKING_TYPES:
        return {"tracking_type": name.upper()}
    return {"tracking_type": "CUSTOM", "custom_event_name": name}


@register
class Reddit(Destination):
    name = "reddit"
    kind = "ads"
    max_batch = 1000
    max_age = timedelta(days=7)
    default_base_url = "https://ads-api.reddit.com"
    required_env = ("PIXEL_ID", "ACCESS_TOKEN")
    optional_env = ("TEST_ID", "BASE_URL")
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if not (event.click_ids.get("rdt_cid") or self.user(event)):
            return "needs an rdt_cid click id or user identifiers"
        return None

    def user(self, event: ForwardEvent) -> dict[str, Any]:
        ip = hashlib.sha256(event.client_ip.encode()).hexdigest() if event.client_ip else None
        return compact(
            {
                "email": hashed(event, "email"),
                "phone_number": hashed(event, "phone"),
                "external_id": hashed(event, "external_id"),
                "ip_address": ip,
                "user_agent": event.user_agent,
            }
        )

    def event(self, event: ForwardEvent) -> dict[str, Any]:
        products = [{"id": str(c["id"])} for c in event.contents if c.get("id") is not None]
        items = sum(int(c.get("quantity") or 1) for c in event.contents)
        metadata = compact(
            {
                "conversion_id": event.event_id,
                "currency": event.currency.upper() if event.currency else None,
                "value": f"{event.value:.2f}" if event.value is not None else None,
                "item_count": items or None,
                "products": products,
            }
        )
        return compact(
            {
                "event_at": event.unix_millis,
                "action_source": "WEBSITE",
                "click_id": event.click_ids.get("rdt_cid"),
                "type": tracking_type(event.event_name),
                "metadata": metadata,
                "user": self.user(event),
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        data = compact(
            {"test_id": config.get("TEST_ID"), "events": [self.event(e) for e in events]}
        )
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {config['ACCESS_TOKEN']}"}
        url = f"{config.base_url}/api/v3/pixels/{config['PIXEL_ID']}/conversion_events"
        ids = tuple(e.event_id for e in events)
        return HttpRequest("POST", url, headers, json_body({"data": data}), ids, config.secrets)
