"""TikTok Events API 2.0 (specs/tracking-protocols.md §5).

The envelope names one ``event_source`` (web, app, offline, crm), so events are grouped by it.
A 200 response whose ``code`` is not 0 is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from convtrack.forward.destination import (
    Destination,
    DestinationConfig,
    HttpRequest,
    Outcome,
    probe,
    register,
)
from convtrack.forward.model import ForwardEvent
from convtrack.forward.outcome import excerpt
from convtrack.forward.wire import JSON_HEADERS, compact, hashed, json_body, money

EVENT_SOURCES = {"web": "web", "website": "web", "app": "app", "crm": "crm"}


def event_source(event: ForwardEvent) -> str:
    return EVENT_SOURCES.get(event.source, "offline")


@register
class TikTok(Destination):
    name = "tiktok"
    kind = "ads"
    max_batch = 1000
    max_age = None
    default_base_url = "https://business-api.tiktok.com"
    required_env = ("PIXEL_CODE", "ACCESS_TOKEN")
    optional_env = ("TEST_EVENT_CODE", "BASE_URL")
    secret_env = frozenset({"ACCESS_TOKEN"})
    consent_required = ("ad_user_data",)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        if not self.user(event):
            return "no usable user fields (hashed email/phone/external_id, ttclid, ttp, ip)"
        return None

    def user(self, event: ForwardEvent) -> dict[str, Any]:
        return compact(
            {
                "email": hashed(event, "email"),
                "phone": hashed(event, "phone"),
                "external_id": hashed(event, "external_id"),
                "ttclid": event.click_ids.get("ttclid"),
                "ttp": event.ttp,
                "ip": event.client_ip,
                "user_agent": event.user_agent,
            }
        )

    def event(self, event: ForwardEvent) -> dict[str, Any]:
        contents = [
            compact(
                {
                    "content_id": c.get("id"),
                    "content_type": "product",
                    "price": money(c.get("item_price")),
                    "quantity": c.get("quantity"),
                }
            )
            for c in event.contents
        ]
        properties = compact(
            {
                "value": money(event.value),
                "currency": event.currency.upper() if event.currency else None,
                "content_type": "product" if contents else None,
                "order_id": event.order_id,
                "contents": contents,
            }
        )
        return compact(
            {
                "event": event.event_name,
                "event_time": event.unix_seconds,
                "event_id": event.event_id,
                "user": self.user(event),
                "page": compact({"url": event.page_url, "referrer": event.referrer}),
                "properties": properties,
            }
        )

    def group(self, events: list[ForwardEvent]) -> list[list[ForwardEvent]]:
        groups: dict[str, list[ForwardEvent]] = {}
        for event in events:
            groups.setdefault(event_source(event), []).append(event)
        return list(groups.values())

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        return self.request(
            event_source(events[0]),
            [self.event(e) for e in events],
            config,
            config.get("TEST_EVENT_CODE"),
            tuple(e.event_id for e in events),
        )

    def request(
        self,
        source: str,
        data: list[dict[str, Any]],
        config: DestinationConfig,
        test_code: str | None,
        ids: tuple[str, ...],
    ) -> HttpRequest:
        body = compact(
            {
                "event_source": source,
                "event_source_id": config["PIXEL_CODE"],
                "test_event_code": test_code,
                "data": data,
            }
        )
        headers = {**JSON_HEADERS, "Access-Token": config["ACCESS_TOKEN"]}
        url = f"{config.base_url}/open_api/v1.3/event/track/"
        return HttpRequest("POST", url, headers, json_body(body), ids, config.secrets)

    def test_request(self, config: DestinationConfig) -> HttpRequest:
        code = config.needed("TEST_EVENT_CODE", "(Events Manager > Test events)")
        event = probe("ViewContent", ("external_id", b"convtrack-test"))
        return self.request("web", [self.event(event)], config, code, (event.event_id,))

    def classify(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request: HttpRequest | None = None,
    ) -> Outcome:
        outcome = super().classify(status, headers, body, request)
        if not outcome.delivered:
            return outcome
        code, message = envelope(body)
        if code in (None, 0):
            return outcome
        text = excerpt(f"code {code}: {message}", request.secrets if request else ())
        return Outcome("dead", status, message=text)

    def error_message(self, status: int, body: bytes) -> str:
        if status < 300:
            return ""
        code, message = envelope(body)
        return f"code {code}: {message}" if code is not None else body.decode("utf-8", "replace")


def envelope(body: bytes) -> tuple[int | None, str]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, ""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("code"), int):
        return None, ""
    return parsed["code"], str(parsed.get("message", ""))
