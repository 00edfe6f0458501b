"""Score attribution models against a simulation's ground truth.

The simulator knows which touch truly *caused* each conversion. Mapping each simulated
channel to the label convtrack gives its touches (the plan's channel rules on the landing
the simulator sends), the true contribution of a label is the share of delivered, caused
conversions it drove. A model's error is the total variation distance between its credit
shares and the true shares: half the sum of absolute differences, 0 (perfect) to 1.
Conversions with no cause (the baseline) have no true channel; their share is reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from convtrack.attribution.touchpoints import Signature, labels
from convtrack.plan.channels import ChannelGrouping
from convtrack.simulate.model import World


def channel_labels(world: World, grouping: ChannelGrouping) -> dict[str, str]:
    """Simulated channel name → the channel convtrack classifies its landings as."""
    out = {}
    for c in world.channels:
        camp = c.campaigns[0] if c.campaigns else None
        host = (urlsplit(c.referrers[0]).hostname or "") if c.referrers and not camp else ""
        sig = Signature(
            "click", c.click_id or "", camp.source if camp else "", camp.medium if camp else "",
            camp.name if camp else "", "", host,
        )  # fmt: skip
        out[c.name] = labels(sig, grouping).channel
    return out


def true_shares(
    truth: Mapping[str, Any], mapping: Mapping[str, str]
) -> tuple[dict[str, float], float]:
    """(label → share of caused conversions, share of conversions without a cause)."""
    delivered = [c for c in truth["conversions"] if c["delivered"]]
    caused = Counter(mapping[c["driver"]["channel"]] for c in delivered if c["driver"])
    total = sum(caused.values())
    baseline = (len(delivered) - total) / len(delivered) if delivered else 0.0
    return ({k: v / total for k, v in caused.items()} if total else {}), baseline


def distance(credited: Mapping[str, float], truth: Mapping[str, float]) -> float:
    """Total variation distance between a model's credit shares and the true shares."""
    total = sum(credited.values())
    shares = {k: v / total for k, v in credited.items()} if total else {}
    keys = set(shares) | set(truth)
    return 0.5 * sum(abs(shares.get(k, 0.0) - truth.get(k, 0.0)) for k in keys)
