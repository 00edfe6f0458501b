"""What ``/openapi.json`` says about each route: summary, security, body and answer.

``catalogue()`` maps OpenAPI paths to operations, one call each, grouped by tag: a ``Group``
holds the tag, security and docs page its operations share. Request bodies name the msgspec
Structs the handlers decode and answers the types of web/openapi_answers.py and
web/openapi_admin_answers.py, so their JSON Schema is generated (web/openapi.py). The
protocol adapters decode no Struct: ``SegmentBatch``, ``SegmentMessage`` and ``PayloadData``
describe their envelopes. ``errors`` names the error statuses from a few kinds (``BODY``,
``TYPED``, ``RETRY``, ``QUERY``) and the operation's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any

import msgspec

from convtrack.collect.ecapi import PATH as ECAPI_PATH
from convtrack.collect.links import PREFIX as LINK_PREFIX
from convtrack.collect.parse import BatchIn
from convtrack.collect.segment import segment_paths
from convtrack.collect.skan import PATH as SKAN_PATH
from convtrack.collect.snowplow import PIXEL_PATHS as SNOWPLOW_PIXELS
from convtrack.collect.snowplow import TP2
from convtrack.events import EventIn
from convtrack.privacy.person import OPTIONS as PERSON_OPTIONS
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
SEGMENT_KEY = ("writeKeyBasic",)  # or writeKey in the body; a Bearer token there is OAuth's
PRIVACY = ("writeKey", "adminToken")
ADMIN = ("adminToken",)
DASHBOARD = ("adminToken", "session")
SESSION = ("session",)
OBJECT: Any = dict[str, Any]  # any JSON object (msgspec: {"type": "object"})
TAG_DOCS = "docs/tag.md"
GIF = {"answer": None, "answer_media": "image/gif"}  # answers a 1×1 GIF
Ops = dict[str, dict[str, "Op"]]  # OpenAPI path → method → operation
# Error statuses an operation can answer besides 401 (any security) and 405 (another method),
# which web/openapi.py adds; the reasons are web/openapi.py's ERRORS.
BODY = (400, 413, 415)  # it reads a JSON body: unreadable, over the limit, not JSON
TYPED = (*BODY, 422)  # … and decodes it to its type: 422 when the JSON is not that
RETRY = (503,)  # ingest: the queue is full or the commit failed; retry after Retry-After
QUERY = (400,)  # it checks its query parameters
INGEST = {"errors": (*TYPED, *RETRY)}


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
    stream: Any = None  # each line of an application/x-ndjson answer (asked with Accept)
    query: tuple[str, ...] = ()  # query parameter names (all optional)
    docs: str = "docs/api.md"  # the docs/ page that says more
    examples: Mapping[str, Any] | None = None  # named request bodies
    errors: tuple[int, ...] | None = ()  # error statuses (see BODY); None: it answers none
    note: str = ""  # more for the description


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


WriteKey = Annotated[
    str, msgspec.Meta(description="The write key, when it is not the HTTP Basic user name")
]


class SegmentMessage(msgspec.Struct):
    """One Segment/RudderStack message (fields as in Segment's spec; docs/protocols.md maps
    them); its type is the path's. ``writeKey``: the write key, unless sent as HTTP Basic."""

    write_key: WriteKey | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="writeKey")


class SegmentBatch(msgspec.Struct):
    """A Segment/RudderStack batch: each message needs ``type``; ``context`` is merged under
    each message's own. ``writeKey``: the write key, unless sent as HTTP Basic."""

    batch: list[dict[str, Any]]
    context: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    write_key: WriteKey | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="writeKey")
    sent_at: datetime | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="sentAt")


class PayloadData(msgspec.Struct):
    """A Snowplow tracker POST: ``schema`` is
    ``iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-n``; ``data`` holds
    one or more events in the tracker protocol's field names."""

    schema: str
    data: list[dict[str, Any]]


SEGMENT_NOTE = (
    " The write key: HTTP Basic (`writeKeyBasic`) or `writeKey` in the body; "
    "`Authorization: Bearer` is taken as an OAuth token and ignored."
)
OK = {"type": "string", "const": "ok"}  # the Snowplow collector's text/plain answer


def catalogue() -> Ops:
    """Every documented operation: OpenAPI path → method → operation."""
    ops: Ops = {}
    for add in (_ingest, _protocols, _reports, _operator, _outbox, _dashboard):
        add(ops)
    meta = Group(ops, "health")
    meta.get("/healthz", "Liveness: 200 while the process serves", ans.Healthy)
    meta.get(
        "/readyz",
        "Readiness: 503 when the write queue is nearly full or commits fail",
        ans.Ready,
        errors=RETRY,
    )
    this = replace(meta, tag="meta", docs="docs/api.md#openapi-get-openapijson")
    this.get(PATH, "This document (OpenAPI 3.1)")
    return ops


def _ingest(ops: Ops) -> None:
    g = Group(ops, "ingest", WRITE_KEY, "docs/events.md", INGEST)
    g.post(
        "/v1/events",
        "Send one event or a batch; answered once committed",
        (EventIn, BatchIn),
        ans.EventsAnswer,
        media=(JSON, TEXT),
        examples=EXAMPLES,
    )
    pixel = replace(g, auth=WRITE_KEY[2:], docs="docs/pixel.md", defaults={"errors": None})
    for path in ("/p.gif", "/p"):
        summary = "The no-JavaScript pixel: event fields as short query names"
        pixel.get(path + "?e&t&id&v&cur&oid", summary, **GIF)
    public = replace(g, auth=(), docs="docs/mobile.md", defaults={})  # not the ingest errors
    public.get("/t.js?v", "The browser tag (ETag, 304, gzip)", None, answer_media=JS, docs=TAG_DOCS)
    link = "Follow a click link: records a link_click and redirects (302)"
    public.get(LINK_PATH, link, None, status=302, errors=(404, *RETRY))
    skan = "A SKAdNetwork postback copy (verified, stored once; 200 even when quarantined)"
    public.post(SKAN_PATH, skan, OBJECT, ans.SkanAnswer, errors=(413,))
    privacy = Group(ops, "privacy", PRIVACY, "docs/privacy.md", {"errors": (403, 422)})
    who = "(secret write key or admin token; 403 for a public key)"
    erase = f"Erase a person {who}"
    privacy.post("/v1/privacy/erase", erase, privacy_api.EraseIn, adm.Erased, errors=(403, *TYPED))
    export = "/v1/privacy/export?" + "&".join(PERSON_OPTIONS)
    privacy.get(export, f"Export what is stored about a person {who}", adm.PersonExport)


def _protocols(ops: Ops) -> None:
    """Segment/RudderStack paths (from collect.segment), Snowplow and IAB ECAPI."""
    defaults = {"media": (JSON, TEXT), "errors": (*BODY, *RETRY)}
    g = Group(ops, "protocols", HEADER_KEY, "docs/protocols.md", defaults)
    segment = replace(g, auth=SEGMENT_KEY, defaults={**defaults, "note": SEGMENT_NOTE})
    for path, kind in sorted(segment_paths().items()):
        what = f"a Segment/RudderStack `{kind}` message" if kind else "a Segment/RudderStack batch"
        body = SegmentMessage if kind else SegmentBatch
        segment.post(path, f"Send {what}", body, ans.SegmentAnswer)
    snowplow = replace(g, auth=WRITE_KEY)
    for path in SNOWPLOW_PIXELS:
        summary = "A Snowplow tracker GET (one event in the query string)"
        snowplow.get(path + "?aid", summary, **GIF, errors=(414, *RETRY))
    tp2 = "Snowplow tracker POST (payload_data)"
    snowplow.post(TP2, tp2, PayloadData, OK, answer_media=TEXT)
    ecapi = 'IAB ECAPI events: one, an array or {"events": [...]}'
    g.post(ECAPI_PATH, ecapi, Any, ans.EcapiAnswer, media=(JSON,))


def _reports(ops: Ops) -> None:
    attribution = "?model&by&from&to&grain&currency&compare"
    g = Group(ops, "reports", DASHBOARD, "docs/attribution.md", {"errors": QUERY})
    g.get("/v1/reports/attribution" + attribution, "The attribution report", ans.AttributionReport)
    g.post(
        "/v1/reports/attribution/credits" + attribution,
        "Write conversion_credits for these parameters",
        None,
        ans.CreditsWritten,
        errors=(*QUERY, 403),  # a session without its CSRF token
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
    g.post("/v1/admin/sql", "One read-only SQL statement", admin.SqlIn, adm.SqlAnswer, errors=TYPED)
    g.get("/v1/admin/keys", "List write keys", adm.Keys)
    g.post("/v1/admin/keys", "Create a write key", admin.KeyIn, adm.NewKey, errors=TYPED)
    revoke = "Revoke a write key"
    g.post("/v1/admin/keys/revoke", revoke, admin.RevokeIn, adm.KeyView, errors=(*TYPED, 404))
    g.get(
        "/v1/admin/events?last&after_received_at&after_event_id&limit",
        "Stored events",
        adm.StoredEvents,
        errors=QUERY,
    )
    g.post("/v1/admin/identity/rebuild", "Rebuild the identity graph", None, adm.Counts)
    export = "Export the store to Parquet (409 while another export runs)"
    lines = (adm.ExportProgress, adm.Exported, ans.Error)  # progress…, then the result or an error
    g.post(
        "/v1/admin/export",
        export,
        admin.ExportIn,
        adm.Exported,
        stream=lines,
        docs="docs/cli.md",
        errors=(*TYPED, 409),
        note=" With `Accept: application/x-ndjson` the answer is a line per day begun, then "
        "the result, or an error once the answer has begun.",
    )
    purge = "Apply retention now"
    privacy = replace(g, docs="docs/privacy.md")
    privacy.post("/v1/admin/privacy/purge", purge, admin.PurgeIn, adm.Purged, errors=TYPED)
    g.post(
        "/v1/admin/spend",
        "Import ad spend rows",
        spend_api.SpendIn,
        adm.SpendImported,
        docs="docs/spend.md",
        errors=TYPED,
    )
    plan = replace(g, docs="docs/tracking-plan.md")
    plan.get("/v1/admin/plan", "The tracking plan in force", adm.PlanInForce)
    reload = "Reload the tracking plan (422 when it does not lint clean)"
    plan.post("/v1/admin/plan/reload", reload, None, adm.PlanReloaded, errors=(422,))
    g.get(
        QUARANTINE + "?status&source&since&reason&limit",
        "Quarantined events",
        adm.QuarantineRows,
        errors=(*QUERY, 422),
    )
    item = "One quarantined event with its payload"
    g.get(QUARANTINE_ITEM, item, adm.QuarantineItem, errors=(404,))
    replay = "Replay quarantined events"
    g.post(QUARANTINE + "/replay", replay, ReplayIn, adm.Replayed, errors=TYPED)
    links = replace(g, docs="docs/mobile.md")
    links.get(LINKS_PATH, "List click links", adm.Links)
    links.post(LINKS_PATH, "Create a click link", LinkIn, Link, status=201, errors=TYPED)


def _outbox(ops: Ops) -> None:
    g = Group(ops, "admin", ADMIN, "docs/destinations.md")
    jobs = "/v1/admin/outbox?status&destination&limit"
    g.get(jobs, "Forwarding jobs", adm.Jobs, errors=QUERY)
    g.get("/v1/admin/outbox/show?id", "One job and its log", adm.JobLog, errors=(*QUERY, 404))
    g.post("/v1/admin/outbox/retry", "Retry jobs", outbox_api.TargetIn, adm.Retried, errors=BODY)
    replay = "Replay dead letters"
    g.post("/v1/admin/outbox/replay", replay, outbox_api.TargetIn, adm.ReplayedJobs, errors=BODY)
    g.get("/v1/admin/destinations", "Destinations and their outbox counts", adm.Destinations)
    name, test = outbox_api.NameIn, "Test a destination (409 when its settings cannot)"
    untestable = (*BODY, 404, 409)  # 409 destination_not_testable
    g.post("/v1/admin/destinations/test", test, name, adm.DestinationTest, errors=untestable)
    resume = "Resume a paused destination"
    g.post("/v1/admin/destinations/resume", resume, name, adm.Resumed, errors=(*BODY, 404))


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
    form = {"media": (FORM,), "status": 303}
    g.post("/signout", signout, SIGNOUT, None, auth=SESSION, errors=(403,), **form)
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
