"""The built-in destinations, registered exactly as a plug-in would register its own."""

from convtrack.forward.destinations import (
    ga4,
    google_dm,
    linkedin,
    meta,
    pinterest,
    reddit,
    snapchat,
    tiktok,
    webhook,
)

__all__ = [
    "ga4",
    "google_dm",
    "linkedin",
    "meta",
    "pinterest",
    "reddit",
    "snapchat",
    "tiktok",
    "webhook",
]
