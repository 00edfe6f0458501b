"""Snapchat Conversions API v3 (specs/more-conversion-apis.md §3.3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from convtrack.forward.destination import Destination, DestinationConfig, HttpRequest, register
from convtrack.forward.model import ForwardEvent
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body, money, with_query

ACTION_SOURCES = {"web": "WEB", "website": "WEB", "app": "MOBILE_APP"}


@register
class Snapchat(Destination):
    name = "snapchat"
    kind = "ads"
    max_batch = 2000
    max_age = timedelta(days=37)
    default_base_url = "https://tr.snapchat.com"
    required_env = ("PIXEL_ID", "ACCESS_TOKEN")
    optional_env = ("BASE_URL",)
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if event.source == "app":
            return "app events go to the Snap app id endpoint, which is not configured"
        if not self.user_data(event):
            return "no usable user_data (hashed email/phone, click id, ip + user agent)"
        return None

    def user_data(self, event: ForwardEvent) -> dict[str, Any]:
        return compact(
            {
                "em": [h] if (h := hashed(event, "email")) else None,
                "ph": [h] if (h := hashed(event, "phone")) else None,
                "client_ip_address": event.client_ip,
                "client_user_agent": event.user_agent,
                "sc_click_id": event.click_ids.get("ScCid"),
            }
        )

    def event(self, event: ForwardEvent) -> dict[str, Any]:
        contents = [
            compact(
                {
                    "id": c.get("id"),
                    "quantity": c.get("quantity"),
                    "item_price": money(c.get("item_price")),
                }
            )
            for c in event.contents
        ]
        custom = compact(
            {
                "currency": event.currency.upper() if event.currency else None,
                "value": money(event.value),
                "contents": contents,
            }
        )
        return compact(
            {
                "event_name": event.event_name,
                "event_time": event.unix_seconds,
                "event_id": event.event_id,
                "action_source": ACTION_SOURCES.get(event.source, "OFFLINE"),
                "event_source_url": event.page_url,
                "user_data": self.user_data(event),
                "custom_data": custom,
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        url = with_query(
            f"{config.base_url}/v3/{config['PIXEL_ID']}/events",
            {"access_token": config["ACCESS_TOKEN"]},
        )
        body = json_body({"data": [self.event(e) for e in events]})
        ids = tuple(e.event_id for e in events)
        return HttpRequest("POST", url, JSON_HEADERS, body, ids, config.secrets)
