# ruff: noqa: S608  (SQL text is fixed here; every value is a parameter)
"""What the click-link and SKAdNetwork tables hold (migration 0014_links_skan).

Plain dataclasses, so they travel between the store process and the server unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

PLATFORMS: tuple[str, ...] = ("web", "ios", "android")
LINK_COLUMNS = (
    "link_id", "destination", "platform", "utm_campaign", "utm_source", "utm_medium",
    "created_at",
)  # fmt: skip
SKAN_COLUMNS = (
    "transaction_id", "received_at", "version", "ad_network_id", "source_identifier", "app_id",
    "source_app_id", "source_domain", "redownload", "fidelity_type", "did_win",
    "postback_sequence_index", "conversion_value", "coarse_conversion_value", "payload",
)  # fmt: skip
# The aggregate ``skan_summary`` returns, one row per source identifier and app.
SKAN_SUMMARY_COLUMNS = (
    "source_identifier", "app_id", "postbacks", "installs", "redownloads", "view_through",
    "coarse_low", "coarse_medium", "coarse_high", "fine_values",
)  # fmt: skip


@dataclass(slots=True)
class Link:
    link_id: str
    destination: str
    platform: str
    utm_campaign: str
    utm_source: str
    utm_medium: str
    created_at: datetime

    def row(self) -> list[Any]:
        return [getattr(self, c) for c in LINK_COLUMNS]


@dataclass(slots=True)
class SkanPostback:
    transaction_id: str
    received_at: datetime
    version: str
    ad_network_id: str
    source_identifier: str
    app_id: int
    source_app_id: int | None
    source_domain: str | None
    redownload: bool | None
    fidelity_type: int | None
    did_win: bool | None
    postback_sequence_index: int | None
    conversion_value: int | None
    coarse_conversion_value: str | None
    payload: str  # the postback as received, JSON

    def row(self) -> list[Any]:
        return [getattr(self, c) for c in SKAN_COLUMNS]


def summary_sql(param: str) -> str:
    """Postbacks per source identifier and app in [start, end): ``param`` spells a parameter.

    An install is a winning first postback (did-win absent before 3.0 counts as a win)."""
    p = param
    first = "coalesce(postback_sequence_index, 0) = 0"
    win = "coalesce(did_win, true)"
    return (
        "SELECT source_identifier, app_id, count(*) AS postbacks,"
        f" count(*) FILTER (WHERE {first} AND {win}) AS installs,"
        f" count(*) FILTER (WHERE {first} AND {win} AND redownload) AS redownloads,"
        f" count(*) FILTER (WHERE {first} AND {win} AND fidelity_type = 0) AS view_through,"
        " count(*) FILTER (WHERE coarse_conversion_value = 'low') AS coarse_low,"
        " count(*) FILTER (WHERE coarse_conversion_value = 'medium') AS coarse_medium,"
        " count(*) FILTER (WHERE coarse_conversion_value = 'high') AS coarse_high,"
        " count(conversion_value) AS fine_values"
        f" FROM skan_postbacks WHERE received_at >= coalesce({p}, received_at)"
        f" AND received_at < coalesce({p}, received_at + INTERVAL '1 day')"
        " GROUP BY source_identifier, app_id ORDER BY source_identifier, app_id"
    )
