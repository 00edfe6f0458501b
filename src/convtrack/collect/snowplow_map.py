"""Snowplow tracker-protocol events → ``EventIn`` (specs/tracking-protocols.md §2.2–2.3).

The mapping tables are in docs/protocols.md.

Pure functions, no I/O. One event is a flat dict of strings (``payload_data``: a POST body's
``data`` items, or a GET query string). An event that cannot be mapped (a missing required
parameter, an unknown ``e``, undecodable ``ue_px``/``cx``, a number that is not one) becomes an
``Invalid`` whose raw form is everything that did map plus the offending parameters under
``snowplow``, so quarantine hashes its identifiers and replay keeps refusing it with a reason.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec

from convtrack.collect.parse import Invalid, issue, validation_issue
from convtrack.events import CAMPAIGN_FIELDS, EventIn

PAYLOAD_SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-"
PLATFORMS = frozenset({"web", "mob", "pc", "srv", "app", "tv", "cnsl", "iot"})
REQUIRED = ("tv", "p", "e")
EVENT_KINDS = {"pv": "page view", "pp": "page ping", "se": "structured event",
               "ue": "self-describing event", "tr": "transaction",
               "ti": "transaction item"}  # fmt: skip
CONTEXT = {"url": "url", "refr": "referrer", "page": "title", "ua": "user_agent", "ip": "ip",
           "lang": "locale"}  # fmt: skip
# Tracker and app facts kept in properties (no identifier is ever kept there: consent strips
# identifiers only from the identity fields).
FACTS = {"aid": "app_id", "p": "platform", "tv": "tracker", "tna": "tracker_namespace"}
# Snowplow's mobile context entity (its published Iglu schema; not in specs/): the device
# identifiers it may carry. The advertising ids become ``identifiers.advertising_id``; the
# vendor and app-set ids are device identifiers no destination reads: dropped.
MOBILE_CONTEXT = re.compile(r"^iglu:com\.snowplowanalytics\.snowplow/mobile_context/jsonschema/")
ADVERTISING_IDS = ("appleIdfa", "androidIdfa")
DEVICE_IDS = (*ADVERTISING_IDS, "appleIdfv", "openIdfa", "appSetId")
STRUCTURED = {"se_ca": "category", "se_ac": "action", "se_la": "label", "se_pr": "property"}
TRANSACTION_ADDRESS = {"tr_ci": "city", "tr_st": "state", "tr_co": "country"}
ITEM = {"ti_id": "order_id", "ti_sk": "sku", "ti_nm": "name", "ti_na": "name", "ti_ca": "category",
        "ti_cu": "currency"}  # fmt: skip
PAGE_PING = ("pp_mix", "pp_max", "pp_miy", "pp_may")
SCREEN_VIEW = re.compile(r"^iglu:com\.snowplowanalytics\.(snowplow|mobile)/screen_view/")
# specs §2.2; group 1 is the name
IGLU_URI = re.compile(r"^iglu:[a-zA-Z0-9\-_.]+/([a-zA-Z0-9\-_]+)/[a-zA-Z0-9\-_]+/\d+-\d+-\d+$")
URL_CAMPAIGN = frozenset(CAMPAIGN_FIELDS)
MAX_ENCODED = 64 * 1024  # characters of one ue_pr/ue_px/co/cx (properties hold 16 KiB anyway)
MAX_ENTITIES = 50
_B64 = re.compile(r"^[A-Za-z0-9+/\-_]*={0,2}$")


class PayloadError(ValueError):
    """A parameter that cannot be read; ``path`` is ``/<parameter>``."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.path = f"/{name}"
        self.reason = reason


def to_item(payload: Any, index: int | None, key_in_aid: bool = False) -> EventIn | Invalid:
    """One ``payload_data`` event as an ``EventIn`` or, when it cannot be one, an ``Invalid``.

    ``key_in_aid``: ``aid`` is the convtrack write key, not an app id worth keeping."""
    if not isinstance(payload, dict):
        return Invalid(issue(index, "", "an event must be an object of string parameters"), payload)
    params = {k: v for k, v in payload.items() if isinstance(v, str) and v != ""}
    if key_in_aid:
        params.pop("aid", None)
    mapped = base_dict(params)
    try:
        _check_required(payload)
        mapped |= event_dict(params)
    except PayloadError as err:
        raw = {**mapped, "snowplow": _offending(payload, err.path[1:])}
        return Invalid(issue(index, err.path, err.reason), raw)
    try:
        return msgspec.convert(mapped, EventIn, strict=False)
    except msgspec.ValidationError as exc:
        return Invalid(validation_issue(index, exc), mapped)


def _check_required(payload: dict[str, Any]) -> None:
    for name in REQUIRED:
        value = payload.get(name)
        if not isinstance(value, str) or not value:
            raise PayloadError(name, "required (a non-empty string)")
    bad = [k for k, v in payload.items() if not isinstance(v, str)]
    if bad:
        raise PayloadError(bad[0], "every payload_data value is a string")
    if payload["p"] not in PLATFORMS:
        raise PayloadError("p", f"must be one of {', '.join(sorted(PLATFORMS))}")
    if payload["e"] not in EVENT_KINDS:
        kinds = ", ".join(f"{k} ({v})" for k, v in EVENT_KINDS.items())
        raise PayloadError("e", f"must be one of {kinds}; got {payload['e']!r}")


def _offending(payload: dict[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if isinstance(value, str) and len(value) > 256:
        value = value[:256] + "…"
    return {"e": payload.get("e"), name: value}


def base_dict(params: dict[str, str]) -> dict[str, Any]:
    """What every event kind carries: ids, times, page context, campaign, tracker facts."""
    out: dict[str, Any] = {"type": "track"}
    _put(out, "event_id", params.get("eid"))
    _put(out, "user_id", params.get("uid"))
    _put(out, "session_id", params.get("sid"))
    # The first-party domain user id, else the network user id the tracker sent (the
    # collector's ``sp`` cookie fills the rest: collect.snowplow).
    _put(out, "anonymous_id", params.get("duid") or params.get("tnuid") or params.get("nuid"))
    _put(out, "context", {f: params[k] for k, f in CONTEXT.items() if k in params})
    _put(out, "campaign", campaign(params.get("url")))
    _put(out, "properties", {f: params[k] for k, f in FACTS.items() if k in params})
    return out


def event_dict(params: dict[str, str]) -> dict[str, Any]:
    """The fields of the event kind ``e`` plus the event times."""
    out: dict[str, Any] = {}
    _times(out, params)
    props: dict[str, Any] = {f: params[k] for k, f in FACTS.items() if k in params}
    entities = contexts(params)
    advertising_id = take_device_ids(entities)
    if entities:
        props["contexts"] = entities
    kind = params["e"]
    if kind == "pv":
        out["type"] = "page"
    elif kind == "pp":
        out["event_name"] = "page_ping"
        props |= {k: _int(params, k) for k in PAGE_PING if k in params}
    elif kind == "se":
        out["event_name"] = _required(params, "se_ac")
        _required(params, "se_ca")
        props |= {f: params[k] for k, f in STRUCTURED.items() if k in params}
        if "se_va" in params:
            props["value"] = _number(params, "se_va")
    elif kind == "tr":
        out |= transaction(params)
        props |= {k: out[k] for k in ("order_id", "value", "currency") if k in out}
        props |= _optional_numbers(params, {"tr_tx": "tax", "tr_sh": "shipping"})
        _put(props, "affiliation", params.get("tr_af"))
    elif kind == "ti":
        out["event_name"] = "transaction_item"
        props |= item(params)
    else:
        name, type_, data, schema = self_describing(params)
        out["event_name"], out["type"] = name, type_
        props |= {"event_schema": schema, **data}
    out["properties"] = props
    if advertising_id:  # hashed (or dropped) at ingest like any advertising id
        out["identifiers"] = {**out.get("identifiers", {}), "advertising_id": advertising_id}
    return out


def take_device_ids(entities: list[dict[str, Any]]) -> str | None:
    """Take the device identifiers out of the mobile context entity (never kept raw in
    properties); the advertising id among them (IDFA, else the Android advertising id)."""
    found = None
    for entity in entities:
        if MOBILE_CONTEXT.match(entity["schema"]) and isinstance(entity["data"], dict):
            data = entity["data"]
            taken = {k: data.pop(k) for k in DEVICE_IDS if k in data}
            ids = [taken.get(k) for k in ADVERTISING_IDS]
            found = found or next((i for i in ids if isinstance(i, str) and i.strip()), None)
    return found


def transaction(params: dict[str, str]) -> dict[str, Any]:
    """``e=tr`` is an order: a ``purchase`` (the canonical name, whatever the plan's aliases)."""
    out: dict[str, Any] = {"event_name": "purchase", "order_id": _required(params, "tr_id")}
    _required(params, "tr_tt")
    out["value"] = _number(params, "tr_tt")
    if "tr_cu" in params:
        out["currency"] = params["tr_cu"].strip().upper()
    address = {f: params[k] for k, f in TRANSACTION_ADDRESS.items() if k in params}
    _put(out, "identifiers", address)  # hashed at ingest, like any identifier
    return out


def item(params: dict[str, str]) -> dict[str, Any]:
    for name in ("ti_id", "ti_sk", "ti_pr", "ti_qu"):
        _required(params, name)
    props: dict[str, Any] = {f: params[k] for k, f in ITEM.items() if k in params}
    props["price"] = _number(params, "ti_pr")
    props["quantity"] = _int(params, "ti_qu")
    return props


def fold_items(items: Sequence[EventIn | Invalid]) -> None:
    """Classic e-commerce sends an order (``tr``) and its items (``ti``) as separate events,
    usually in one request: each purchase of ``items`` without ``contents`` gets the items of
    its order from the same request as ``properties.contents`` (``id`` = SKU, ``quantity``,
    ``item_price``, ``name``, ``category``), which the destinations forward. The items stay
    events of their own; an item in another request is not folded."""
    by_order: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        if isinstance(it, EventIn) and it.event_name == "transaction_item" and it.properties:
            p = it.properties
            content = {"id": p.get("sku"), "quantity": p.get("quantity"),
                       "item_price": p.get("price"), "name": p.get("name"),
                       "category": p.get("category")}  # fmt: skip
            by_order.setdefault(str(p.get("order_id")), []).append(
                {k: v for k, v in content.items() if v is not None}
            )
    if not by_order:
        return
    for it in items:
        if (isinstance(it, EventIn) and it.event_name == "purchase" and it.order_id
                and it.order_id in by_order):  # fmt: skip
            props = it.properties if it.properties is not None else {}
            if "contents" not in props:
                it.properties = {**props, "contents": by_order[it.order_id]}


def self_describing(params: dict[str, str]) -> tuple[str, str, dict[str, Any], str]:
    """``ue_pr`` / ``ue_px`` → (event name, type, its data, its schema URI)."""
    name = "ue_px" if "ue_px" in params else "ue_pr"
    outer = self_describing_json(params, name, "ue_pr or ue_px: the event is required")
    inner = outer.get("data")
    if not isinstance(inner, dict):
        raise PayloadError(name, 'must wrap {"schema": "iglu:…", "data": {…}} in "data"')
    schema, data = _entity(name, inner)
    if SCREEN_VIEW.match(schema):
        return "screen_view", "screen", data, schema
    match = IGLU_URI.match(schema)
    assert match is not None  # checked by _entity
    return match[1], "track", data, schema


def contexts(params: dict[str, str]) -> list[dict[str, Any]]:
    """``co`` / ``cx`` → ``[{"schema", "data"}, …]`` (empty when neither is sent)."""
    name = "cx" if "cx" in params else "co"
    if name not in params:
        return []
    outer = self_describing_json(params, name, "")
    entities = outer.get("data")
    if not isinstance(entities, list):
        raise PayloadError(name, 'must hold a list of entities in "data"')
    if len(entities) > MAX_ENTITIES:
        raise PayloadError(name, f"holds more than {MAX_ENTITIES} entities")
    out = []
    for entity in entities:
        schema, data = _entity(name, entity)
        out.append({"schema": schema, "data": data})
    return out


def self_describing_json(params: dict[str, str], name: str, missing: str) -> dict[str, Any]:
    """The JSON object of ``ue_pr``/``co`` (plain) or ``ue_px``/``cx`` (base64), bounded."""
    text = params.get(name)
    if text is None:
        raise PayloadError(name, missing)
    if len(text) > MAX_ENCODED:
        raise PayloadError(name, f"is longer than {MAX_ENCODED} characters")
    raw = decode_base64(name, text) if name in ("ue_px", "cx") else text.encode()
    try:
        doc = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(name, f"is not valid JSON ({exc})") from None
    except RecursionError:
        raise PayloadError(name, "is nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
        raise PayloadError(name, 'must be a self-describing JSON {"schema": "iglu:…", "data": …}')
    return doc


def decode_base64(name: str, text: str) -> bytes:
    """Tolerant base64 (specs §2.2): URL-safe or standard alphabet, padded or not."""
    text = text.strip()
    if not _B64.match(text):
        raise PayloadError(name, "is not base64: only A-Z a-z 0-9 + / - _ and = padding")
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    if len(text) % 4 == 1:
        raise PayloadError(name, "is not base64: its length is impossible (truncated?)")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise PayloadError(name, f"is not base64 ({exc})") from None


def _entity(name: str, entity: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(entity, dict):
        raise PayloadError(name, 'an entity must be {"schema": "iglu:…", "data": {…}}')
    schema, data = entity.get("schema"), entity.get("data")
    if not isinstance(schema, str) or not IGLU_URI.match(schema):
        raise PayloadError(name, f"schema {schema!r} is not iglu:vendor/name/format/M-R-A")
    if not isinstance(data, dict):
        raise PayloadError(name, f"the data of {schema} must be an object")
    return schema, data


def campaign(url: str | None) -> dict[str, str]:
    """utm_* parameters and click ids in the page URL (Snowplow derives ``mkt_*`` the same)."""
    if not url:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, max_num_fields=200):
        if key in URL_CAMPAIGN and value:
            out.setdefault(key, value)
    return out


def _times(out: dict[str, Any], params: dict[str, str]) -> None:
    """``ttm`` (the true time) as is; else ``dtm`` corrected by ``stm`` for device clock skew."""
    if "ttm" in params:
        out["timestamp"] = _int(params, "ttm")
        return
    if "dtm" in params:
        out["timestamp"] = _int(params, "dtm")
        if "stm" in params:
            out["sent_at"] = _int(params, "stm")


def _required(params: dict[str, str], name: str) -> str:
    if name not in params:
        kind = EVENT_KINDS[params["e"]]
        raise PayloadError(name, f"required for a {kind} (e={params['e']})")
    return params[name]


def _number(params: dict[str, str], name: str) -> float:
    try:
        value = float(params[name])
    except ValueError:
        raise PayloadError(name, f"is not a number: {params[name][:64]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise PayloadError(name, "is not a finite number")
    return value


def _int(params: dict[str, str], name: str) -> int:
    try:
        return int(params[name])
    except ValueError:
        raise PayloadError(name, f"is not an integer: {params[name][:64]!r}") from None


def _optional_numbers(params: dict[str, str], names: dict[str, str]) -> dict[str, float]:
    return {field: _number(params, k) for k, field in names.items() if k in params}


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != {} and value != "":
        out[key] = value
