"""What ``/openapi.json`` says about each route: summary, security, body and answer.

``catalogue()`` maps OpenAPI paths to operations; request bodies name the msgspec Structs the
handlers decode, so their JSON Schema is generated (web/openapi.py). The few answers simple
enough to state exactly are Structs here, checked against real answers in
tests/web/test_openapi.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from convtrack.collect.ecapi import PATH as ECAPI_PATH
from convtrack.collect.links import PREFIX as LINK_PREFIX
from convtrack.collect.parse import BatchIn
from convtrack.collect.segment import segment_paths
from convtrack.collect.skan import PATH as SKAN_PATH
from convtrack.collect.snowplow import PIXEL_PATHS as SNOWPLOW_PIXELS
from convtrack.collect.snowplow import TP2
from convtrack.events import EventIn
from convtrack.web import admin, outbox_api, privacy_api, spend_api
from convtrack.web.dashboard import PAGE_PATHS, STATIC, STATIC_PREFIX
from convtrack.web.links_api import PATH as LINKS_PATH
from convtrack.web.links_api import LinkIn
from convtrack.web.pages import DEMO_FILES
from convtrack.web.quarantine_api import PREFIX as QUARANTINE
from convtrack.web.quarantine_api import ReplayIn

PATH = "/openapi.json"
JSON, TEXT, HTML = "application/json", "text/plain", "text/html"
FORM = "application/x-www-form-urlencoded"
LINK_PATH = LINK_PREFIX + "{link_id}"
QUARANTINE_ITEM = QUARANTINE + "/{reject_id}"
# Security: each tuple lists the schemes of which any one opens the operation.
WRITE_KEY = ("writeKey", "writeKeyBasic", "writeKeyQuery")
HEADER_KEY = ("writeKey", "writeKeyBasic")
PRIVACY = ("writeKey", "adminToken")
ADMIN = ("adminToken",)
DASHBOARD = ("adminToken", "session")
SESSION = ("session",)
OBJECT: Any = dict[str, Any]  # any JSON object (msgspec: {"type": "object"})


# --- answers simple enough to state exactly (each checked against a real answer in tests) ---
class Detail(msgspec.Struct, omit_defaults=True):
    """One problem: ``path`` is a JSON pointer into the event; ``index`` its place in a batch."""

    reason: str
    path: str | None = None
    index: int | None = None


class ErrorInfo(msgspec.Struct):
    code: str
    message: str
    details: list[Detail] = []


class Error(msgspec.Struct):
    """The one error shape of every HTTP error (docs/api.md, "Errors: one shape")."""

    error: ErrorInfo


class EventsAnswer(msgspec.Struct, omit_defaults=True):
    """``POST /v1/events``: counted once the accepted events are committed."""

    accepted: int
    rejected: int
    errors: list[Detail]
    warnings: list[Detail]
    dropped: int | None = None  # only when not 0: consent allows storing nothing of them
    anonymous_id: str | None = None  # public keys: the first-party identity cookie's id


class Healthy(msgspec.Struct):
    status: str
    version: str


class Ready(msgspec.Struct):
    status: str
    queue_pending: int


class SessionInfo(msgspec.Struct):
    csrf_token: str
    expires_at: float


@dataclass(frozen=True)
class Op:
    """One operation. ``body`` and ``answer``: a msgspec type, a tuple of them (one of), a
    JSON Schema dict, or None."""

    summary: str
    tag: str
    auth: tuple[str, ...] = ()  # any one of these security schemes; () is public
    body: Any = None
    media: tuple[str, ...] = (JSON,)  # the body's content types
    answer: Any = OBJECT
    status: int = 200
    answer_media: str = JSON
    query: tuple[str, ...] = ()  # query parameter names (all optional)
    docs: str = "docs/api.md"  # the docs/ page that says more
    examples: Mapping[str, Any] | None = None  # named request bodies


EVENT_EXAMPLE = {
    "event_name": "purchase",
    "type": "conversion",
    "event_id": "order-1001",
    "anonymous_id": "a1b2c3d4",
    "value": 49.9,
    "currency": "EUR",
    "order_id": "1001",
    "properties": {"coupon": "SPRING"},
}
EXAMPLES = {
    "event": {"summary": "One event", "value": EVENT_EXAMPLE},
    "batch": {
        "summary": "A batch",
        "value": {
            "events": [EVENT_EXAMPLE, {"event_name": "page_view", "type": "page"}],
            "sent_at": "2026-01-01T12:00:00Z",
        },
    },
}


def catalogue() -> dict[str, dict[str, Op]]:
    """Every documented operation: OpenAPI path → method → operation."""
    return {
        **_ingest(),
        **_protocols(),
        **_reports(),
        **_operator(),
        **_dashboard(),
        "/healthz": {"get": Op("Liveness: 200 while the process serves", "health", answer=Healthy)},
        "/readyz": {
            "get": Op(
                "Readiness: 503 when the write queue is nearly full or commits fail",
                "health",
                answer=Ready,
            )
        },
        PATH: {
            "get": Op(
                "This document (OpenAPI 3.1)", "meta", docs="docs/api.md#openapi-get-openapijson"
            )
        },
    }


def _ingest() -> dict[str, dict[str, Op]]:
    pixel = Op(
        "The no-JavaScript pixel: event fields as short query names",
        "ingest",
        WRITE_KEY[2:],
        answer=None,
        answer_media="image/gif",
        query=("e", "t", "id", "v", "cur", "oid"),
        docs="docs/pixel.md",
    )
    return {
        "/v1/events": {
            "post": Op(
                "Send one event or a batch; answered once committed",
                "ingest",
                WRITE_KEY,
                (EventIn, BatchIn),  # one of
                (JSON, TEXT),
                EventsAnswer,
                docs="docs/events.md",
                examples=EXAMPLES,
            )
        },
        "/p.gif": {"get": pixel},
        "/p": {"get": pixel},
        "/t.js": {
            "get": Op(
                "The browser tag (ETag, 304, gzip)",
                "ingest",
                answer=None,
                answer_media="application/javascript",
                query=("v",),
                docs="docs/tag.md",
            )
        },
        LINK_PATH: {
            "get": Op(
                "Follow a click link: records a link_click and redirects (302)",
                "ingest",
                answer=None,
                status=302,
                docs="docs/mobile.md",
            )
        },
        SKAN_PATH: {
            "post": Op(
                "A SKAdNetwork postback copy (verified, stored once)",
                "ingest",
                body=OBJECT,
                docs="docs/mobile.md",
            )
        },
        "/v1/privacy/erase": {
            "post": Op(
                "Erase a person (secret write key or admin token)",
                "privacy",
                PRIVACY,
                privacy_api.EraseIn,
                docs="docs/privacy.md",
            )
        },
        "/v1/privacy/export": {
            "get": Op(
                "Export what is stored about a person (secret write key or admin token)",
                "privacy",
                PRIVACY,
                docs="docs/privacy.md",
                query=("email", "phone", "external_id", "user_id", "anonymous_id"),
            )
        },
    }


def _protocols() -> dict[str, dict[str, Op]]:
    """Segment/RudderStack paths (from collect.segment), Snowplow and IAB ECAPI."""
    ops: dict[str, dict[str, Op]] = {}
    for path, kind in sorted(segment_paths().items()):
        what = f"a Segment/RudderStack `{kind}` message" if kind else "a Segment/RudderStack batch"
        ops[path] = {
            "post": Op(
                f"Send {what}",
                "protocols",
                HEADER_KEY,
                OBJECT,
                (JSON, TEXT),
                docs="docs/protocols.md",
            )
        }
    for path in SNOWPLOW_PIXELS:
        ops[path] = {
            "get": Op(
                "A Snowplow tracker GET (one event in the query string)",
                "protocols",
                WRITE_KEY,
                answer=None,
                answer_media="image/gif",
                query=("aid",),
                docs="docs/protocols.md",
            )
        }
    ops[TP2] = {
        "post": Op(
            "Snowplow tracker POST (payload_data)",
            "protocols",
            WRITE_KEY,
            OBJECT,
            (JSON, TEXT),
            None,
            answer_media=TEXT,
            docs="docs/protocols.md",
        )
    }
    ops[ECAPI_PATH] = {
        "post": Op(
            'IAB ECAPI events: one, an array or {"events": [...]}',
            "protocols",
            HEADER_KEY,
            Any,  # any JSON
            docs="docs/protocols.md",
        )
    }
    return ops


def _reports() -> dict[str, dict[str, Op]]:
    window = ("from", "to")
    qa = {
        "health": ("Tracking health: volume, quarantine, match rate, dedup, destinations", window),
        "anomalies": (
            "Volume anomalies against the weekly forecast band",
            ("to", "hours", "weeks", "z", "series"),
        ),
        "alerts": ("Recent alerts and the conditions still active", ("limit",)),
        "modeled": ("Observed and modeled conversions per channel", window),
    }
    attribution = ("model", "by", "from", "to", "grain", "currency", "compare")
    return {
        "/v1/reports/attribution": {
            "get": Op(
                "The attribution report",
                "reports",
                DASHBOARD,
                query=attribution,
                docs="docs/attribution.md",
            )
        },
        "/v1/reports/attribution/credits": {
            "post": Op(
                "Write conversion_credits for these parameters",
                "reports",
                DASHBOARD,
                query=attribution,
                docs="docs/attribution.md",
            )
        },
        "/v1/reports/conversions": {
            "get": Op(
                "The conversions report",
                "reports",
                DASHBOARD,
                query=("by", *window),
                docs="docs/tracking-plan.md",
            )
        },
        "/v1/debug/events": {
            "get": Op(
                "Live debugger: the latest stored and quarantined events",
                "reports",
                DASHBOARD,
                query=("anonymous_id", "event_name", "source", "limit"),
            )
        },
        **{
            f"/v1/qa/{name}": {"get": Op(summary, "qa", DASHBOARD, query=q, docs="docs/qa.md")}
            for name, (summary, q) in qa.items()
        },
    }


def _operator() -> dict[str, dict[str, Op]]:
    """``/v1/admin/*``: the admin token only."""

    def op(
        summary: str, body: Any = None, query: tuple[str, ...] = (), docs: str = "docs/api.md"
    ) -> Op:
        return Op(summary, "admin", ADMIN, body, query=query, docs=docs)

    dest = "docs/destinations.md"
    return {
        "/v1/admin/status": {"get": op("Server status: queue, commits, forwarding")},
        "/v1/admin/sql": {"post": op("One read-only SQL statement", admin.SqlIn)},
        "/v1/admin/keys": {
            "get": op("List write keys"),
            "post": op("Create a write key", admin.KeyIn),
        },
        "/v1/admin/keys/revoke": {"post": op("Revoke a write key", admin.RevokeIn)},
        "/v1/admin/events": {
            "get": op(
                "Stored events", query=("last", "after_received_at", "after_event_id", "limit")
            )
        },
        "/v1/admin/plan": {"get": op("The tracking plan in force", docs="docs/tracking-plan.md")},
        "/v1/admin/plan/reload": {
            "post": op("Reload the tracking plan", docs="docs/tracking-plan.md")
        },
        "/v1/admin/spend": {
            "post": op("Import ad spend rows", spend_api.SpendIn, docs="docs/spend.md")
        },
        "/v1/admin/identity/rebuild": {"post": op("Rebuild the identity graph")},
        "/v1/admin/privacy/purge": {
            "post": op("Apply retention now", admin.PurgeIn, docs="docs/privacy.md")
        },
        "/v1/admin/export": {
            "post": op("Export the store to Parquet", admin.ExportIn, docs="docs/cli.md")
        },
        QUARANTINE: {
            "get": op("Quarantined events", query=("status", "source", "since", "reason", "limit"))
        },
        QUARANTINE_ITEM: {"get": op("One quarantined event with its payload")},
        QUARANTINE + "/replay": {"post": op("Replay quarantined events", ReplayIn)},
        LINKS_PATH: {
            "get": op("List click links", docs="docs/mobile.md"),
            "post": Op(
                "Create a click link", "admin", ADMIN, LinkIn, status=201, docs="docs/mobile.md"
            ),
        },
        "/v1/admin/outbox": {
            "get": op("Forwarding jobs", query=("status", "destination", "limit"), docs=dest)
        },
        "/v1/admin/outbox/show": {"get": op("One job and its log", query=("id",), docs=dest)},
        "/v1/admin/outbox/retry": {"post": op("Retry jobs", outbox_api.TargetIn, docs=dest)},
        "/v1/admin/outbox/replay": {
            "post": op("Replay dead letters", outbox_api.TargetIn, docs=dest)
        },
        "/v1/admin/destinations": {"get": op("Destinations and their outbox counts", docs=dest)},
        "/v1/admin/destinations/test": {
            "post": op("Test a destination", outbox_api.NameIn, docs=dest)
        },
        "/v1/admin/destinations/resume": {
            "post": op("Resume a paused destination", outbox_api.NameIn, docs=dest)
        },
    }


def _dashboard() -> dict[str, dict[str, Op]]:
    def page(summary: str, auth: tuple[str, ...] = ()) -> dict[str, Op]:
        return {
            "get": Op(
                summary, "dashboard", auth, answer=None, answer_media=HTML, docs="docs/dashboard.md"
            )
        }

    signin = {
        "type": "object",
        "properties": {"secret": {"type": "string"}, "next": {"type": "string"}},
        "required": ["secret"],
    }
    signout = {"type": "object", "properties": {"csrf_token": {"type": "string"}}}
    statics = {
        STATIC_PREFIX + name: {
            "get": Op(
                f"Dashboard asset {name}",
                "dashboard",
                answer=None,
                answer_media=kind.split(";")[0],
                docs="docs/dashboard.md",
            )
        }
        for name, kind in STATIC.items()
    }
    demo = {
        path: {
            "get": Op(
                f"Demo shop: {name}",
                "demo",
                answer=None,
                answer_media=_media(name),
                docs="README.md",
            )
        }
        for path, name in DEMO_FILES.items()
    }
    return {
        "/": page("The dashboard overview when signed in, else the sign-in page"),
        **{
            p: page(f"Dashboard page {p.rsplit('/', 1)[1]} (303 to / without a session)", SESSION)
            for p in sorted(PAGE_PATHS)
        },
        "/signin": {
            "post": Op(
                "Sign in: session cookie and 303",
                "dashboard",
                body=signin,
                media=(FORM,),
                answer=None,
                status=303,
                docs="docs/dashboard.md",
            )
        },
        "/signout": {
            "post": Op(
                "Sign out (CSRF token in the form or X-CSRF-Token)",
                "dashboard",
                SESSION,
                signout,
                (FORM,),
                None,
                303,
                docs="docs/dashboard.md",
            )
        },
        "/v1/dashboard/session": {
            "get": Op(
                "The session's CSRF token and expiry",
                "dashboard",
                SESSION,
                answer=SessionInfo,
                docs="docs/dashboard.md",
            )
        },
        **statics,
        **demo,
    }


def _media(name: str) -> str:
    kind = name.rsplit(".", 1)[1]
    return {"html": HTML, "js": "application/javascript", "css": "text/css"}[kind]
