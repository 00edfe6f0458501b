"""What ``/openapi.json`` says about each route: summary, security, body and answer.

``catalogue()`` maps OpenAPI paths to operations, one call each, grouped by tag: a ``Group``
holds the tag, security and docs page its operations share. Request bodies name the msgspec
Structs the handlers decode and answers the types of web/openapi_answers.py and
web/openapi_admin_answers.py, so their JSON Schema is generated (web/openapi.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from convtrack.collect.ecapi import PATH as ECAPI_PATH
from convtrack.collect.links import PREFIX as LINK_PREFIX
from convtrack.collect.parse import BatchIn
from convtrack.collect.segment import segment_paths
from convtrack.collect.skan import PATH as SKAN_PATH
from convtrack.collect.snowplow import PIXEL_PATHS as SNOWPLOW_PIXELS
from convtrack.collect.snowplow import TP2
from convtrack.events import EventIn
from convtrack.store.links_model import Link
from convtrack.web import admin, outbox_api, privacy_api, spend_api
from convtrack.web import openapi_admin_answers as adm
from convtrack.web import openapi_answers as ans
from convtrack.web.dashboard import PAGE_PATHS, STATIC, STATIC_PREFIX
from convtrack.web.links_api import PATH as LINKS_PATH
from convtrack.web.links_api import LinkIn
from convtrack.web.pages import DEMO_FILES
from convtrack.web.quarantine_api import PREFIX as QUARANTINE
from convtrack.web.quarantine_api import ReplayIn

PATH = "/openapi.json"
JSON, TEXT, HTML, JS = "application/json", "text/plain", "text/html", "application/javascript"
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
TAG_DOCS = "docs/tag.md"
GIF = {"answer": None, "answer_media": "image/gif"}  # answers a 1×1 GIF
Ops = dict[str, dict[str, "Op"]]  # OpenAPI path → method → operation


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


@dataclass(frozen=True)
class Group:
    """Operations sharing a tag, security and docs page; ``get``/``post`` add one to ``ops``.
    A path may end in its query parameters: ``/v1/qa/alerts?limit``."""

    ops: Ops
    tag: str
    auth: tuple[str, ...] = ()
    docs: str = "docs/api.md"
    defaults: Mapping[str, Any] = field(default_factory=dict)  # more Op fields for all

    def get(self, path: str, summary: str, answer: Any = OBJECT, **more: Any) -> None:
        self._add("get", path, summary, answer=answer, **more)

    def post(self, path: str, summary: str, body: Any, answer: Any = OBJECT, **more: Any) -> None:
        self._add("post", path, summary, body=body, answer=answer, **more)

    def _add(self, method: str, path: str, summary: str, **more: Any) -> None:
        path, _, query = path.partition("?")  # "/path?a&b": query parameters a and b
        if query:
            more["query"] = tuple(query.split("&"))
        given = {"tag": self.tag, "auth": self.auth, "docs": self.docs, **self.defaults, **more}
        self.ops.setdefault(path, {})[method] = Op(summary, **given)


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


def catalogue() -> Ops:
    """Every documented operation: OpenAPI path → method → operation."""
    ops: Ops = {}
    for add in (_ingest, _protocols, _reports, _operator, _outbox, _dashboard):
        add(ops)
    meta = Group(ops, "health")
    meta.get("/healthz", "Liveness: 200 while the process serves", ans.Healthy)
    meta.get(
        "/readyz", "Readiness: 503 when the write queue is nearly full or commits fail", ans.Ready
    )
    this = replace(meta, tag="meta", docs="docs/api.md#openapi-get-openapijson")
    this.get(PATH, "This document (OpenAPI 3.1)")
    return ops


def _ingest(ops: Ops) -> None:
    g = Group(ops, "ingest", WRITE_KEY, "docs/events.md")
    g.post(
        "/v1/events",
        "Send one event or a batch; answered once committed",
        (EventIn, BatchIn),
        ans.EventsAnswer,
        media=(JSON, TEXT),
        examples=EXAMPLES,
    )
    pixel = replace(g, auth=WRITE_KEY[2:], docs="docs/pixel.md")
    for path in ("/p.gif", "/p"):
        summary = "The no-JavaScript pixel: event fields as short query names"
        pixel.get(path + "?e&t&id&v&cur&oid", summary, **GIF)
    public = replace(g, auth=(), docs="docs/mobile.md")
    public.get("/t.js?v", "The browser tag (ETag, 304, gzip)", None, answer_media=JS, docs=TAG_DOCS)
    link = "Follow a click link: records a link_click and redirects (302)"
    public.get(LINK_PATH, link, None, status=302)
    public.post(SKAN_PATH, "A SKAdNetwork postback copy (verified, stored once)", OBJECT)
    privacy = Group(ops, "privacy", PRIVACY, "docs/privacy.md")
    who = "(secret write key or admin token)"
    privacy.post("/v1/privacy/erase", f"Erase a person {who}", privacy_api.EraseIn, adm.Erased)
    export = "/v1/privacy/export?email&phone&external_id&user_id&anonymous_id"
    privacy.get(export, f"Export what is stored about a person {who}", adm.PersonExport)


def _protocols(ops: Ops) -> None:
    """Segment/RudderStack paths (from collect.segment), Snowplow and IAB ECAPI."""
    g = Group(ops, "protocols", HEADER_KEY, "docs/protocols.md", {"media": (JSON, TEXT)})
    for path, kind in sorted(segment_paths().items()):
        what = f"a Segment/RudderStack `{kind}` message" if kind else "a Segment/RudderStack batch"
        g.post(path, f"Send {what}", OBJECT)
    snowplow = replace(g, auth=WRITE_KEY, defaults={})
    for path in SNOWPLOW_PIXELS:
        summary = "A Snowplow tracker GET (one event in the query string)"
        snowplow.get(path + "?aid", summary, **GIF)
    tp2 = "Snowplow tracker POST (payload_data)"
    snowplow.post(TP2, tp2, OBJECT, None, media=(JSON, TEXT), answer_media=TEXT)
    g.post(ECAPI_PATH, 'IAB ECAPI events: one, an array or {"events": [...]}', Any, media=(JSON,))


def _reports(ops: Ops) -> None:
    attribution = "?model&by&from&to&grain&currency&compare"
    g = Group(ops, "reports", DASHBOARD, "docs/attribution.md")
    g.get("/v1/reports/attribution" + attribution, "The attribution report", ans.AttributionReport)
    g.post(
        "/v1/reports/attribution/credits" + attribution,
        "Write conversion_credits for these parameters",
        None,
        ans.CreditsWritten,
    )
    g.get(
        "/v1/reports/conversions?by&from&to",
        "The conversions report",
        ans.ConversionsReport,
        docs="docs/tracking-plan.md",
    )
    g.get(
        "/v1/debug/events?anonymous_id&event_name&source&limit",
        "Live debugger: the latest stored and quarantined events",
        ans.DebugEvents,
        docs="docs/api.md",
    )
    qa = replace(g, tag="qa", docs="docs/qa.md")
    qa.get(
        "/v1/qa/health?from&to",
        "Tracking health: volume, quarantine, match rate, dedup, destinations",
        ans.Health,
    )
    qa.get(
        "/v1/qa/anomalies?to&hours&weeks&z&series",
        "Volume anomalies against the weekly forecast band",
        ans.Anomalies,
    )
    qa.get("/v1/qa/alerts?limit", "Recent alerts and the conditions still active", ans.Alerts)
    qa.get("/v1/qa/modeled?from&to", "Observed and modeled conversions per channel", ans.Modeled)


def _operator(ops: Ops) -> None:
    """``/v1/admin/*``: the admin token only."""
    g = Group(ops, "admin", ADMIN)
    g.get("/v1/admin/status", "Server status: queue, commits, forwarding", adm.Status)
    g.post("/v1/admin/sql", "One read-only SQL statement", admin.SqlIn, adm.SqlAnswer)
    g.get("/v1/admin/keys", "List write keys", adm.Keys)
    g.post("/v1/admin/keys", "Create a write key", admin.KeyIn, adm.NewKey)
    g.post("/v1/admin/keys/revoke", "Revoke a write key", admin.RevokeIn, adm.KeyView)
    g.get(
        "/v1/admin/events?last&after_received_at&after_event_id&limit",
        "Stored events",
        adm.StoredEvents,
    )
    g.post("/v1/admin/identity/rebuild", "Rebuild the identity graph", None, adm.Counts)
    g.post("/v1/admin/export", "Export the store to Parquet", admin.ExportIn, docs="docs/cli.md")
    g.post("/v1/admin/privacy/purge", "Apply retention now", admin.PurgeIn, docs="docs/privacy.md")
    g.post(
        "/v1/admin/spend",
        "Import ad spend rows",
        spend_api.SpendIn,
        adm.SpendImported,
        docs="docs/spend.md",
    )
    plan = replace(g, docs="docs/tracking-plan.md")
    plan.get("/v1/admin/plan", "The tracking plan in force", adm.PlanInForce)
    plan.post("/v1/admin/plan/reload", "Reload the tracking plan", None, adm.PlanReloaded)
    g.get(
        QUARANTINE + "?status&source&since&reason&limit", "Quarantined events", adm.QuarantineRows
    )
    g.get(QUARANTINE_ITEM, "One quarantined event with its payload", adm.QuarantineItem)
    g.post(QUARANTINE + "/replay", "Replay quarantined events", ReplayIn, adm.Replayed)
    links = replace(g, docs="docs/mobile.md")
    links.get(LINKS_PATH, "List click links", adm.Links)
    links.post(LINKS_PATH, "Create a click link", LinkIn, Link, status=201)


def _outbox(ops: Ops) -> None:
    g = Group(ops, "admin", ADMIN, "docs/destinations.md")
    g.get("/v1/admin/outbox?status&destination&limit", "Forwarding jobs", adm.Jobs)
    g.get("/v1/admin/outbox/show?id", "One job and its log", adm.JobLog)
    g.post("/v1/admin/outbox/retry", "Retry jobs", outbox_api.TargetIn, adm.Retried)
    g.post("/v1/admin/outbox/replay", "Replay dead letters", outbox_api.TargetIn, adm.ReplayedJobs)
    g.get("/v1/admin/destinations", "Destinations and their outbox counts", adm.Destinations)
    name = outbox_api.NameIn
    g.post("/v1/admin/destinations/test", "Test a destination", name, adm.DestinationTest)
    g.post("/v1/admin/destinations/resume", "Resume a paused destination", name, adm.Resumed)


SIGNIN = {
    "type": "object",
    "properties": {"secret": {"type": "string"}, "next": {"type": "string"}},
    "required": ["secret"],
}
SIGNOUT = {"type": "object", "properties": {"csrf_token": {"type": "string"}}}


def _dashboard(ops: Ops) -> None:
    g = Group(ops, "dashboard", (), "docs/dashboard.md", {"answer_media": HTML})
    g.get("/", "The dashboard overview when signed in, else the sign-in page", None)
    for p in sorted(PAGE_PATHS):
        name = p.rsplit("/", 1)[1]
        g.get(p, f"Dashboard page {name} (303 to / without a session)", None, auth=SESSION)
    g.post("/signin", "Sign in: session cookie and 303", SIGNIN, None, media=(FORM,), status=303)
    signout = "Sign out (CSRF token in the form or X-CSRF-Token)"
    g.post("/signout", signout, SIGNOUT, None, auth=SESSION, media=(FORM,), status=303)
    session = "The session's CSRF token and expiry"
    g.get("/v1/dashboard/session", session, ans.SessionInfo, auth=SESSION, answer_media=JSON)
    for name, kind in STATIC.items():
        g.get(
            STATIC_PREFIX + name, f"Dashboard asset {name}", None, answer_media=kind.split(";")[0]
        )
    demo = replace(g, tag="demo", docs="README.md")
    for path, name in DEMO_FILES.items():
        kind = {"html": HTML, "js": JS, "css": "text/css"}[name.rsplit(".", 1)[1]]
        demo.get(path, f"Demo shop: {name}", None, answer_media=kind)
