"""IAB Tech Lab ECAPI v1.0 events on ``POST /v1/ecapi/events`` (specs/more-conversion-apis.md §2).

The spec leaves the path, authentication and batching to the receiver; here: the write key in
``Authorization`` (Bearer, or Basic with the key as user), a body of one event, a JSON array
of events or ``{"events": [...]}``, JSON optionally gzip-encoded. Each ECAPI event becomes an
``EventIn`` (its ``user_data`` hashes are identifiers already hashed) and goes through the
same pipeline as a native event; ``id`` is the ``event_id``, so a re-send is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from convtrack.asgi import Receive, Scope, Send, header, only, send_error, send_json
from convtrack.collect.auth import KeyRing, key_from_authorization
from convtrack.collect.body import decode_json, read_decoded_body
from convtrack.collect.events_api import client_ip
from convtrack.collect.parse import Invalid, Origin, issue, validation_issue
from convtrack.collect.pipeline import Pipeline
from convtrack.errors import ConvtrackError
from convtrack.events import EventIn

PATH = "/v1/ecapi/events"
# ECAPI event_type → canonical event name, where the two differ; the rest keep their name.
EVENT_NAMES = {"viewed_item": "view_item", "viewed_cart": "view_cart", "install": "app_install"}
EVENT_TYPES = {"page_view": "page", "ad_impression": "impression"}
ADDRESS = {"first_name": "first_name", "last_name": "last_name", "postal_code": "zip",
           "city": "city", "state": "state", "country_code": "country"}  # fmt: skip
USER_PROPERTIES = ("click_id", "impression_id", "mmt_only")
ITEM_NAMES = {"id": "item_id", "name": "item_name", "item_coupon": "coupon",
              "items_coupon": "coupon"}  # fmt: skip


@dataclass
class EcapiEndpoint:
    pipeline: Pipeline
    keys: KeyRing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            only(scope, "POST")
        except ConvtrackError as err:
            await send_error(send, err)
            return
        await send_json(send, 200, await self._handle(scope, receive))

    async def _handle(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        settings = self.pipeline.settings
        record = self.keys.authenticate(
            key_from_authorization(header(scope, b"authorization")), None
        )
        doc = decode_json(await read_decoded_body(scope, receive, settings.max_body_bytes))
        events, is_batch = envelope(doc)
        if len(events) > settings.max_batch_events:
            raise ConvtrackError(
                "too_many_events",
                f"A batch holds at most {settings.max_batch_events} events; got {len(events)}.",
                413,
            )
        items = [to_item(e, i if is_batch else None) for i, e in enumerate(events)]
        gate = self.pipeline.gate
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        ua = header(scope, b"user-agent")
        origin = Origin(
            source="server" if record.kind == "secret" else "tag",
            key_id=record.key_id,
            trusted=record.kind == "secret",
            ip=client_ip(scope, settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=datetime.now(UTC),
        )
        out = await self.pipeline.store(items, origin, region, None, is_batch)
        if out.rejected and not out.valid:
            raise ConvtrackError(
                "no_valid_events",
                "No event in the request was valid; see details (each is kept in quarantine).",
                400,
                details=out.errors,
            )
        result = {"accepted": len(out.kept), "rejected": len(out.rejected)}
        return result | {"errors": out.errors, "warnings": out.warnings}


def envelope(doc: Any) -> tuple[list[Any], bool]:
    if isinstance(doc, list):
        return doc, True
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return doc["events"], True
    if isinstance(doc, dict):
        return [doc], False
    raise ConvtrackError(
        "invalid_batch", 'Send one ECAPI event, a JSON array of them or {"events": [...]}.', 400
    )


def to_item(event: Any, index: int | None) -> EventIn | Invalid:
    if not isinstance(event, dict):
        return Invalid(issue(index, "", "an ECAPI event must be a JSON object"), event)
    problem = _required(event)
    if problem:  # quarantined with user_data as identifiers, so they are hashed as usual
        user = _obj(event.pop("user_data", None))
        return Invalid(issue(index, *problem), event | {"identifiers": identifiers(user)})
    mapped = to_event_dict(event)
    try:
        return msgspec.convert(mapped, EventIn, strict=False)
    except msgspec.ValidationError as exc:
        return Invalid(validation_issue(index, exc), mapped)


def _required(event: dict[str, Any]) -> tuple[str, str] | None:
    if not isinstance(event.get("data_set_id"), str) or not event["data_set_id"]:
        return "/data_set_id", "required: the data set the event belongs to"
    ts = event.get("timestamp")
    if not isinstance(ts, int | float) or isinstance(ts, bool) or ts < 0:
        return "/timestamp", "required: Unix epoch seconds"
    if not isinstance(event.get("event_type"), str) or not event["event_type"]:
        return "/event_type", "required"
    if event["event_type"] == "custom" and not event.get("custom_event"):
        return "/custom_event", "required when event_type is custom"
    return None


def to_event_dict(event: dict[str, Any]) -> dict[str, Any]:
    kind = event["event_type"]
    name = event["custom_event"] if kind == "custom" else EVENT_NAMES.get(kind, kind)
    props = dict(_obj(event.get("properties")))
    user = _obj(event.get("user_data"))
    out: dict[str, Any] = {
        "event_name": name,
        "type": EVENT_TYPES.get(kind, "track"),
        "timestamp": round(event["timestamp"] * 1000),
    }
    _put(out, "event_id", event.get("id"))
    _put(out, "value", event.get("value"))
    _put(out, "currency", event.get("currency_code"))
    _put(out, "order_id", props.pop("transaction_id", None))
    _put(out, "identifiers", identifiers(user))
    context = {"url": props.pop("page_url", None), "referrer": props.pop("referrer", None)}
    context |= {"ip": user.get("event_ip_address"), "user_agent": user.get("event_user_agent")}
    _put(out, "context", {k: v for k, v in context.items() if v is not None})
    if isinstance(items := props.get("items"), list):
        props["items"] = [_item(i) for i in items]
    if isinstance(coupon := props.get("coupon"), list):
        props["coupon"] = ",".join(str(c) for c in coupon)
    props |= {k: user[k] for k in USER_PROPERTIES if user.get(k) is not None}
    props["data_set_id"] = event["data_set_id"]
    _put(props, "event_source", event.get("source"))
    out["properties"] = props
    return out


def identifiers(user: dict[str, Any]) -> dict[str, Any]:
    """``user_data`` → identifiers (hashes stay hashes; spec spellings and examples.md ones)."""
    ids: dict[str, Any] = {}
    _put(ids, "email", _first(user.get("email_address") or user.get("email_addresses")))
    _put(ids, "phone", _first(user.get("phone_numbers")))
    _put(ids, "external_id", user.get("customer_identifier"))
    _put(ids, "gender", user.get("gender"))
    address = _obj(_first(user.get("address") or user.get("addresses")))
    for key, field in ADDRESS.items():
        _put(ids, field, address.get(key))
    return ids


def _item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {ITEM_NAMES.get(k, k): v for k, v in item.items()}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value if value else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "" and value != {}:
        out[key] = value
