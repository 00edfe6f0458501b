from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from convtrack.forward import ForwardEvent
from convtrack.forward.destinations.meta import HASHED_KEYS
from convtrack.forward.model import USER_DATA_FIELDS
from forward.samples import FIXED, purchase


def test_occurred_at_must_be_aware_and_is_kept_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ForwardEvent("e", "Purchase", datetime(2026, 1, 1))
    local = FIXED.astimezone(timezone(timedelta(hours=-4)))
    assert ForwardEvent("e", "Purchase", local).occurred_at.utcoffset() == timedelta(0)


def test_user_data_fields_are_a_closed_set() -> None:
    with pytest.raises(ValueError, match="unknown user_data"):
        ForwardEvent("e", "Purchase", FIXED, user_data={"em": "x"})


def test_adjustments_need_a_type_and_conversions_have_none() -> None:
    with pytest.raises(ValueError, match="adjustment_type"):
        ForwardEvent("e", "Purchase", FIXED, kind="adjustment")
    with pytest.raises(ValueError, match="adjustment_type"):
        ForwardEvent("e", "Purchase", FIXED, adjustment_type="refund")


def test_timestamps_in_wire_forms() -> None:
    event = purchase("meta")
    assert event.unix_seconds == 1773500966
    assert event.unix_millis == 1773500966000
    assert event.rfc3339 == "2026-03-14T15:09:26Z"


def test_meta_maps_every_user_data_field() -> None:
    """Meta.user_data looks each field up in HASHED_KEYS without a membership test."""
    assert set(HASHED_KEYS) == USER_DATA_FIELDS
