"""The exact requests sent to each platform, compared with reviewed snapshots.

Regenerate with ``CONVTRACK_UPDATE_SNAPSHOTS=1 pytest tests/forward/test_snapshots.py`` and review
the diff against the specs before committing it.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from convtrack.forward import ForwardEvent, HttpRequest, get
from convtrack.forward.model import Original
from forward.samples import FIXED, FIXED_NOW, PLATFORMS, purchase
from forward.validators import ENV

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: the webhook signs its timestamp, so both change with the clock (test_webhook pins them)
VOLATILE_HEADERS = {"X-Convtrack-Timestamp", "X-Convtrack-Signature"}


def env_for(platform: str) -> dict[str, str]:
    prefix = f"CONVTRACK_{platform.upper()}_"
    values = {**ENV[platform]}
    if platform == "webhook":
        values["URL"] = "https://hooks.example.com/convtrack"
    return {prefix + k: v for k, v in values.items()}


def normalised(request: HttpRequest) -> dict[str, Any]:
    headers = {
        k: ("<volatile>" if k in VOLATILE_HEADERS else v)
        for k, v in sorted(request.headers.items())
    }
    return {
        "method": request.method,
        "url": request.url,
        "headers": headers,
        "event_ids": list(request.event_ids),
        "body": json.loads(request.body),
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_payload_matches_snapshot(platform: str) -> None:
    events = [purchase(platform), purchase(platform, FIXED, index=2, value=None, contents=())]
    check_snapshot(platform, events, f"{platform}.json")


def adjustment(platform: str, kind: str, original: Original | None) -> ForwardEvent:
    """An adjustment of sample order 1 as forward/original.py builds it: with the purchase's
    identifiers when its original is stored, its own value (42.0) and a later time."""
    bought = purchase(platform)
    return replace(
        bought if original is not None else purchase(platform, click_ids={}, user_data={}),
        event_id=f"adj-{kind}",
        occurred_at=FIXED + timedelta(minutes=30),
        value=42.0,
        contents=(),
        kind="adjustment",
        adjustment_type=kind,
        original_order_id=bought.order_id,
        original=original,
    )


ORIGINAL = Original("evt-1", FIXED - timedelta(days=2), 129.95, "USD")


@pytest.mark.parametrize("platform", ["google_dm", "webhook"])
def test_adjustment_payload_matches_snapshot(platform: str) -> None:
    """Adjustments with the original conversion (Google: its time, the update's as
    lastUpdatedTimestamp; webhook: ``original``), and one whose original is not stored."""
    if platform == "google_dm":
        events = [adjustment(platform, "restatement", ORIGINAL)]
    else:
        events = [adjustment(platform, "refund", ORIGINAL), adjustment(platform, "cancel", None)]
    check_snapshot(platform, events, f"{platform}_adjustments.json")


def check_snapshot(platform: str, events: list[ForwardEvent], name: str) -> None:
    destination = get(platform)
    config = destination.config_from_env(env_for(platform))
    requests = destination.build(events, config, now=FIXED_NOW)
    actual = [normalised(r) for r in requests]
    path = SNAPSHOTS / name
    if os.environ.get("CONVTRACK_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
        pytest.skip(f"wrote {path.name}: review it against the spec")
    assert path.exists(), f"no snapshot {path.name}: run with CONVTRACK_UPDATE_SNAPSHOTS=1"
    assert actual == json.loads(path.read_text())
