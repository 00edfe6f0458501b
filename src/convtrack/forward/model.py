"""What a destination may know about one conversion, independent of how it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["conversion", "adjustment"]
AdjustmentType = Literal["refund", "cancel", "restatement"]
ConsentState = Literal["granted", "denied"] | None

#: Keys of ``ForwardEvent.user_data``; values are already in the platform's wire form.
USER_DATA_FIELDS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "city",
        "state",
        "zip",
        "country",
        "date_of_birth",
        "gender",
        "external_id",
    }
)
ADJUSTMENT_TYPES = frozenset({"refund", "cancel", "restatement"})


@dataclass(frozen=True)
class ForwardEvent:
    """One conversion (or an adjustment of one) ready to be sent to one platform.

    ``event_name`` is the platform-facing name after the tracking plan's mapping. ``user_data``
    maps a field of :data:`USER_DATA_FIELDS` to its wire value, already normalised and hashed
    for the platform this event goes to; destinations never hash raw personal data.
    """

    event_id: str
    event_name: str
    occurred_at: datetime
    source: str = "web"
    page_url: str | None = None
    referrer: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    click_ids: Mapping[str, str] = field(default_factory=dict)
    fbc: str | None = None
    fbp: str | None = None
    ttp: str | None = None
    anonymous_id: str | None = None
    user_id: str | None = None
    user_data: Mapping[str, str] = field(default_factory=dict)
    value: float | None = None
    currency: str | None = None
    order_id: str | None = None
    contents: tuple[Mapping[str, Any], ...] = ()
    consent: Mapping[str, ConsentState] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    kind: Kind = "conversion"
    adjustment_type: AdjustmentType | None = None
    original_order_id: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"event {self.event_id}: occurred_at must be timezone-aware")
        if self.occurred_at.utcoffset():
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        unknown = set(self.user_data) - USER_DATA_FIELDS
        if unknown:
            raise ValueError(f"event {self.event_id}: unknown user_data fields {sorted(unknown)}")
        if self.kind == "adjustment" and self.adjustment_type not in ADJUSTMENT_TYPES:
            raise ValueError(f"event {self.event_id}: an adjustment needs an adjustment_type")
        if self.kind == "conversion" and self.adjustment_type is not None:
            raise ValueError(f"event {self.event_id}: adjustment_type on a conversion")

    @property
    def unix_seconds(self) -> int:
        return int(self.occurred_at.timestamp())

    @property
    def unix_millis(self) -> int:
        return int(self.occurred_at.timestamp() * 1000)

    @property
    def rfc3339(self) -> str:
        """UTC timestamp with a ``Z`` suffix, e.g. ``2026-03-14T15:09:26Z``."""
        text = self.occurred_at.astimezone(UTC).isoformat(timespec="milliseconds")
        text = text.replace("+00:00", "Z")
        return text.replace(".000Z", "Z")

    def consent_of(self, signal: str) -> ConsentState:
        return self.consent.get(signal)

    @property
    def adjusted_order_id(self) -> str | None:
        """The order an adjustment refers to (falls back to ``order_id``)."""
        return self.original_order_id or self.order_id
