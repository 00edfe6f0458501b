"""Pinterest Conversions API v5 (specs/more-conversion-apis.md §3.4)."""

from __future__ import annotations

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
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body, with_query

EVENT_NAMES = frozenset(
    [
        "add_to_cart",
        "checkout",
        "custom",
        "lead",
        "page_visit",
        "search",
        "signup",
        "view_category",
        "watch_video",
    ]
)
HASHED_KEYS = {
    "email": "em",
    "phone": "ph",
    "first_name": "fn",
    "last_name": "ln",
    "gender": "ge",
    "date_of_birth": "db",
    "city": "ct",
    "state": "st",
    "zip": "zp",
    "country": "country",
    "external_id": "external_id",
}
APP_SOURCES = {"ios": "app_ios", "android": "app_android"}


def action_source(event: ForwardEvent) -> str | None:
    if event.source in ("web", "website"):
        return "web"
    if event.source == "app":
        return APP_SOURCES.get(str(event.properties.get("os", "")).lower())
    return "offline"


@register
class Pinterest(Destination):
    name = "pinterest"
    kind = "ads"
    max_batch = 1000
    max_age = None
    default_base_url = "https://api.pinterest.com"
    required_env = ("AD_ACCOUNT_ID", "ACCESS_TOKEN")
    optional_env = ("TEST", "BASE_URL")
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if event.event_name not in EVENT_NAMES:
            names = ", ".join(sorted(EVENT_NAMES))
            return f"{event.event_name!r} is not a Pinterest event name ({names})"
        if action_source(event) is None:
            return "app events need properties.os = ios or android"
        if not (hashed(event, "email") or (event.client_ip and event.user_agent)):
            return "needs a hashed email or client ip + user agent"
        return None

    def user_data(self, event: ForwardEvent) -> dict[str, Any]:
        arrays = {key: [h] for field, key in HASHED_KEYS.items() if (h := hashed(event, field))}
        return compact(
            {
                **arrays,
                "client_ip_address": event.client_ip,
                "client_user_agent": event.user_agent,
                "click_id": event.click_ids.get("epik"),
            }
        )

    def event(self, event: ForwardEvent) -> dict[str, Any]:
        ids = [str(c["id"]) for c in event.contents if c.get("id") is not None]
        items = sum(int(c.get("quantity") or 1) for c in event.contents)
        custom = compact(
            {
                "currency": event.currency.upper() if event.currency else None,
                "value": f"{event.value:.2f}" if event.value is not None else None,
                "content_ids": ids,
                "num_items": items or None,
                "order_id": event.order_id,
            }
        )
        return compact(
            {
                "event_name": event.event_name,
                "action_source": action_source(event),
                "event_time": event.unix_seconds,
                "event_id": event.event_id,
                "event_source_url": event.page_url,
                "user_data": self.user_data(event),
                "custom_data": custom,
            }
        )

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        return self.request([self.event(e) for e in events], config, config.flag("TEST"), events)

    def request(
        self,
        data: list[dict[str, Any]],
        config: DestinationConfig,
        test: bool,
        events: Sequence[ForwardEvent],
    ) -> HttpRequest:
        url = with_query(
            f"{config.base_url}/v5/ad_accounts/{config['AD_ACCOUNT_ID']}/events",
            {"test": "true" if test else None},
        )
        headers = {**JSON_HEADERS, "Authorization": f"Bearer {config['ACCESS_TOKEN']}"}
        ids = tuple(e.event_id for e in events)
        return HttpRequest("POST", url, headers, json_body({"data": data}), ids, config.secrets)

    def test_request(self, config: DestinationConfig) -> HttpRequest:
        event = probe("page_visit", ("email", b"test@example.com"), source="offline")
        return self.request([self.event(event)], config, True, [event])
