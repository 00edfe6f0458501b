"""The canonical event: the one shape every protocol adapter produces.

Wire input (``EventIn``) is decoded and bounded by msgspec; ``Event`` adds what only the
server knows (``received_at``, ``source``, the accepting key). Every string and collection
has a bound so one request can never hold unbounded memory. See docs/events.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Str64 = Annotated[str, Meta(max_length=64)]
Str128 = Annotated[str, Meta(max_length=128)]
Str256 = Annotated[str, Meta(max_length=256)]
Str512 = Annotated[str, Meta(max_length=512)]
Url = Annotated[str, Meta(max_length=2048)]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
Currency = Annotated[str, Meta(pattern="^[A-Z]{3}$")]
Money = Annotated[float, Meta(gt=-1e12, lt=1e12)]  # fits the stores' DECIMAL(18, 6)
# A client timestamp: RFC 3339 string or Unix epoch milliseconds.
Timestamp = datetime | Annotated[int, Meta(ge=0, le=32503680000000)]

EventType = Literal["page", "screen", "track", "identify", "conversion", "impression"]
ConsentValue = Literal["granted", "denied"]

# Click identifiers a touchpoint can carry (specs/tracking-protocols.md §6), verbatim:
# click ids are case-sensitive and stored as received.
CLICK_IDS: tuple[str, ...] = (
    "gclid", "gbraid", "wbraid", "dclid", "fbclid", "ttclid", "msclkid", "li_fat_id",
    "twclid", "ScCid", "epik", "rdt_cid", "irclickid",
)  # fmt: skip
GOOGLE_AUX: tuple[str, ...] = ("gclsrc", "gad_source", "gad_campaignid")
UTM_FIELDS: tuple[str, ...] = (
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
    "utm_source_platform", "utm_creative_format", "utm_marketing_tactic",
)  # fmt: skip
CAMPAIGN_FIELDS: tuple[str, ...] = UTM_FIELDS + CLICK_IDS + GOOGLE_AUX

MAX_PROPERTIES_BYTES = 16 * 1024
MAX_PROPERTIES_DEPTH = 5
MAX_PROPERTIES_KEYS = 200  # counted over the whole tree
MAX_PROPERTY_STRING = 4096
MAX_PROPERTY_KEY = 256


# gc=False (here and on ``Event``): the collector is never asked to track these structs. Safe
# because no event is ever part of a reference cycle: the fields hold scalars, other such
# structs, and containers built from decoded JSON or by the enrich stage, none of which refers
# back to an event. (Containers inside a struct are still tracked themselves.)
class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Base for wire objects: unknown fields are an error (typos must not vanish)."""


class Context(Strict):
    url: Url | None = None
    referrer: Url | None = None
    title: Str512 | None = None
    user_agent: Str512 | None = None
    ip: Str64 | None = None
    locale: Annotated[str, Meta(max_length=35)] | None = None


class Campaign(Strict):
    utm_source: Str256 | None = None
    utm_medium: Str256 | None = None
    utm_campaign: Str256 | None = None
    utm_term: Str256 | None = None
    utm_content: Str256 | None = None
    utm_id: Str256 | None = None
    utm_source_platform: Str256 | None = None
    utm_creative_format: Str256 | None = None
    utm_marketing_tactic: Str256 | None = None
    gclid: Str512 | None = None
    gbraid: Str512 | None = None
    wbraid: Str512 | None = None
    dclid: Str512 | None = None
    fbclid: Str512 | None = None
    ttclid: Str512 | None = None
    msclkid: Str512 | None = None
    li_fat_id: Str512 | None = None
    twclid: Str512 | None = None
    ScCid: Str512 | None = None
    epik: Str512 | None = None
    rdt_cid: Str512 | None = None
    irclickid: Str512 | None = None
    gclsrc: Str128 | None = None
    gad_source: Str128 | None = None
    gad_campaignid: Str128 | None = None
    # When the click that produced these ids happened (landing time).
    click_at: Timestamp | None = None
    # Meta browser ids (specs §3.4): _fbc = fb.1.<click ms>.<fbclid>, _fbp = fb.1.<ms>.<random>.
    fbc: Annotated[str, Meta(max_length=640)] | None = None
    fbp: Str128 | None = None


class Identifiers(Strict):
    """Personal identifiers. Raw values are hashed by the enrich stage before storage."""

    email: Annotated[str, Meta(max_length=320)] | None = None
    phone: Str64 | None = None
    external_id: Str256 | None = None
    first_name: Str128 | None = None
    last_name: Str128 | None = None
    city: Str128 | None = None
    state: Str128 | None = None
    zip: Str64 | None = None
    country: Str64 | None = None
    date_of_birth: Str64 | None = None  # YYYY-MM-DD (also YYYYMMDD, YYYY/MM/DD)
    gender: Str64 | None = None
    # The device's advertising id (GAID / IDFA, a UUID) and whether the user lets it be used
    # for ads (false: ignored). Hashed into ``advertising_id_sha256``; see docs/mobile.md.
    advertising_id: Str64 | None = None
    ad_tracking_enabled: bool | None = None


class Consent(Strict):
    """Google Consent Mode v2 names, plus the raw TCF string and GPC flag when known."""

    ad_storage: ConsentValue | None = None
    analytics_storage: ConsentValue | None = None
    ad_user_data: ConsentValue | None = None
    ad_personalization: ConsentValue | None = None
    tcf: Annotated[str, Meta(max_length=4096)] | None = None
    gpc: bool | None = None


class EventIn(Strict):
    """One event as a client sends it to ``POST /v1/events``."""

    event_name: Name | None = None
    type: EventType = "track"
    event_id: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    timestamp: Timestamp | None = None
    sent_at: Timestamp | None = None
    anonymous_id: Str256 | None = None
    user_id: Str256 | None = None
    session_id: Str256 | None = None
    context: Context | None = None
    campaign: Campaign | None = None
    identifiers: Identifiers | None = None
    consent: Consent | None = None
    value: Money | None = None
    currency: Currency | None = None
    order_id: Str128 | None = None
    properties: dict[str, Any] | None = None


class HashedIds(msgspec.Struct, omit_defaults=True, gc=False):
    """SHA-256 hex digests of normalised identifiers (see enrich.pii)."""

    email_sha256: str | None = None
    phone_sha256: str | None = None
    external_id_sha256: str | None = None
    advertising_id_sha256: str | None = None


class DecisionRecord(Mapping[str, Any]):
    """``Event.consent_decision``: a read-only consent decision record and its JSON text.

    enrich.privacy gives every event with the same consent signals and region one record, so
    ``json`` (the exact text stored in the ``consent_decision`` column) is encoded once per
    decision, not per event, and it is what crosses to the store process (``enc_hook`` /
    ``dec_hook``); there the mapping is decoded from it only if something reads it.
    """

    __slots__ = ("_data", "json")

    def __init__(self, json: str, data: Mapping[str, Any] | None = None) -> None:
        self.json = json
        self._data = data

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> DecisionRecord:
        return cls(_json_text(data), data)

    def _mapping(self) -> Mapping[str, Any]:
        if self._data is None:
            self._data = msgspec.json.decode(self.json)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return f"DecisionRecord({self.json!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return DecisionRecord, (self.json,)


_json_encode = msgspec.json.Encoder().encode


def _json_text(obj: Any) -> str:
    return _json_encode(obj).decode()


def enc_hook(obj: Any) -> Any:
    """msgspec ``enc_hook`` for encoding events: a ``DecisionRecord`` travels as its JSON."""
    if isinstance(obj, DecisionRecord):
        return obj.json
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def dec_hook(typ: type, obj: Any) -> Any:
    """msgspec ``dec_hook`` for decoding events (the inverse of ``enc_hook``)."""
    if typ is DecisionRecord:
        if isinstance(obj, str):
            return DecisionRecord(obj)
        if isinstance(obj, dict):
            return DecisionRecord.of(obj)
    raise NotImplementedError(f"cannot decode {typ.__name__} from {type(obj).__name__}")


class Event(msgspec.Struct, omit_defaults=True, gc=False):
    """The canonical event, as stored. Times are timezone-aware UTC."""

    event_id: str
    event_name: str
    type: str
    source: str
    occurred_at: datetime
    received_at: datetime
    sent_at: datetime | None = None
    client_timestamp: datetime | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    context: Context = msgspec.field(default_factory=Context)
    campaign: Campaign = msgspec.field(default_factory=Campaign)
    identifiers: Identifiers | None = None
    hashed: HashedIds = msgspec.field(default_factory=HashedIds)
    # Per-platform hashes (enrich.pii.pii_hashes): {field: {"*": common, platform: differing}}.
    pii: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    consent: Consent | None = None
    # What the consent decision did to this event (enrich.privacy); None: not decided.
    # A plain dict works in memory too (the store encodes it); the wire needs the hooks above.
    consent_decision: DecisionRecord | None = None
    value: float | None = None
    currency: str | None = None
    order_id: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    key_id: str | None = None
    # The tracking plan version the event was checked against at ingest.
    plan_version: str | None = None
    # Transient, never a column: the forwarding jobs (destination, conversion, platform event)
    # the store writes to its outbox if, and only if, it inserts this event (forward.routing).
    deliveries: list[tuple[str, str, str]] = msgspec.field(default_factory=list)
    # Transient too: the plan defines conversions on this event's name (or it was sent as a
    # conversion), so the store tallies every copy's source in event_copies (store/copies.py).
    conversion: bool = False


class Rejected(msgspec.Struct, gc=False):
    """An event that failed validation, kept in quarantine with its raw payload and reasons."""

    reject_id: str
    received_at: datetime
    source: str
    payload: str
    reasons: list[dict[str, Any]]
    key_id: str | None = None
    plan_version: str | None = None  # the plan it failed (None: it failed before the plan)
    # What replay needs to rebuild the event as it arrived (see collect/replay.py).
    event_name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    batch_sent_at: datetime | None = None
