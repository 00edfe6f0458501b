"""Click links: ``GET /c/<link_id>`` records a click and redirects (302) to the stored URL.

A link (``convtrack links create``) names a destination, a platform and its campaign. A click
is stored as a ``link_click`` event with a fresh click id (``properties.ct_click``), the link's
utm fields as its campaign and the anonymous-id cookie (as the pixel sets it), through the
same pipeline as every event. The redirect goes only to the stored destination (never to a
URL from the request, so the endpoint is no open redirect):

- web / ios: the destination with ``ct_click=<click id>`` added to its query;
- android: the Play Store link with ``utm_*`` and ``ct_click`` inside its ``referrer``
  parameter (url-encoded), so the app's install event carries them back as its install
  referrer (collect.install_referrer): the install is matched to the click by its id and
  attributed to the link's campaign.

An ad network may fill the device's advertising id into the link's query (``?gaid=``,
``?aaid=``, ``?idfa=`` or ``?advertising_id=``, from its click macro): the click then carries
it as an identifier (hashed at ingest, like every identifier), and the app's install event
with the same id stitches to the click's person, so the install is attributed to the link's
campaign without a referrer. Nothing in the query changes where the redirect goes.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from convtrack.asgi import Receive, Scope, Send, header, only
from convtrack.collect.events_api import client_ip
from convtrack.collect.identity import IdentityCookie, new_anonymous_id, valid_id
from convtrack.collect.install_referrer import CLICK_ID
from convtrack.collect.parse import Origin
from convtrack.collect.pipeline import Pipeline
from convtrack.enrich.pii import normalise_advertising_id
from convtrack.errors import ConvtrackError
from convtrack.events import Campaign, Consent, Context, EventIn, Identifiers
from convtrack.store.base import EventStore
from convtrack.store.links_model import PLATFORMS, Link

PREFIX = "/c/"
EVENT_NAME = "link_click"
PLAY_HOST = "play.google.com"
MAX_LINK_ID = 32
# Query parameters a click link reads the device's advertising id from (the first one set).
ADVERTISING_ID_PARAMS = ("gaid", "aaid", "idfa", "advertising_id")
MAX_ADVERTISING_ID = 64


def not_found(link_id: str) -> ConvtrackError:
    return ConvtrackError(
        "link_not_found",
        f"No click link {link_id[:MAX_LINK_ID]!r}; `convtrack links list` shows the links.",
        404,
    )


def new_link(
    destination: str, campaign: str, source: str = "", medium: str = "", platform: str = "web"
) -> Link:
    """A link with a fresh id, its destination checked (``ConvtrackError`` if unfit)."""
    check_destination(destination, platform)
    if not campaign.strip():
        raise ConvtrackError("invalid_link", "--campaign must not be empty.", 422)
    return Link(
        link_id=secrets.token_urlsafe(6),
        destination=destination,
        platform=platform,
        utm_campaign=campaign.strip(),
        utm_source=source.strip(),
        utm_medium=medium.strip(),
        created_at=datetime.now(UTC),
    )


def check_destination(url: str, platform: str) -> None:
    if platform not in PLATFORMS:
        raise ConvtrackError(
            "invalid_link",
            f"platform must be one of {', '.join(PLATFORMS)}; got {platform!r}.",
            422,
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2048:
        raise ConvtrackError(
            "invalid_link",
            f"--to must be an absolute http(s) URL of at most 2048 characters; got {url!r}.",
            422,
        )
    if platform == "android" and parts.hostname != PLAY_HOST:
        raise ConvtrackError(
            "invalid_link",
            "An android link goes to the Play Store: "
            "https://play.google.com/store/apps/details?id=<package>.",
            422,
        )


def target(link: Link, click_id: str) -> str:
    """Where a click on ``link`` goes: its destination carrying the click id."""
    parts = urlsplit(link.destination)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if link.platform == "android":
        referrer = dict(parse_qsl(dict(query).get("referrer", "")))
        referrer |= {k: v for k, v in _utm(link).items() if v} | {CLICK_ID: click_id}
        query = [(k, v) for k, v in query if k != "referrer"] + [("referrer", urlencode(referrer))]
    else:
        query = [(k, v) for k, v in query if k != CLICK_ID] + [(CLICK_ID, click_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def advertising_id(query_string: bytes) -> str | None:
    """The first real advertising id an ad network's click macro put in the link's query,
    if any: a link often carries both networks' macros, and one left unfilled (``{gaid}``),
    the all-zero id or anything else that is no UUID must not hide the other
    (enrich.pii.normalise_advertising_id decides)."""
    query = parse_qs(query_string.decode("latin-1"))
    for name in ADVERTISING_ID_PARAMS:
        for value in query.get(name) or ():
            value = value.strip()
            if len(value) <= MAX_ADVERTISING_ID and normalise_advertising_id(value):
                return value
    return None


def _utm(link: Link) -> dict[str, str]:
    return {
        "utm_source": link.utm_source,
        "utm_medium": link.utm_medium,
        "utm_campaign": link.utm_campaign,
    }


@dataclass
class LinkEndpoint:
    """``GET /c/<link_id>``: the server routes every path under ``/c/`` here."""

    pipeline: Pipeline
    store: EventStore
    cookie: IdentityCookie | None = field(init=False)

    def __post_init__(self) -> None:
        self.cookie = IdentityCookie.from_settings(self.pipeline.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        only(scope)  # a click link is followed with GET
        link_id = scope["path"][len(PREFIX) :]
        if not (0 < len(link_id) <= MAX_LINK_ID and valid_id(link_id)):
            raise not_found(link_id)
        link = await asyncio.to_thread(self.store.get_link, link_id)
        if link is None:
            raise not_found(link_id)
        click_id = secrets.token_urlsafe(16)
        headers = [
            (b"location", target(link, click_id).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        if scope["method"] == "GET":  # a HEAD (a link preview) is no click
            aid = await self._record(scope, link, click_id)
            if aid is not None and self.cookie is not None:
                headers.append(self.cookie.set_cookie(scope, aid))
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _record(self, scope: Scope, link: Link, click_id: str) -> str | None:
        """Store the click; return the anonymous id for the cookie (None: consent says no)."""
        settings, gate = self.pipeline.settings, self.pipeline.gate
        gpc = settings.honor_gpc and header(scope, b"sec-gpc") == b"1"
        consent = Consent(gpc=True) if gpc else None
        region = gate.region(header(scope, gate.region_header) if gate.region_header else None)
        cookie = self.cookie.read(scope) if self.cookie is not None else None
        allowed = gate.analytics_full(consent, region)
        anonymous_id = (cookie or new_anonymous_id()) if allowed else new_anonymous_id()
        ua = header(scope, b"user-agent")
        referer = header(scope, b"referer")
        now = datetime.now(UTC)
        device = advertising_id(scope.get("query_string", b""))
        event = EventIn(
            event_name=EVENT_NAME,
            type="track",
            anonymous_id=anonymous_id,
            campaign=Campaign(**{k: v for k, v in _utm(link).items() if v}, click_at=now),
            context=Context(referrer=referer.decode("latin-1")[:2048] if referer else None),
            consent=consent,
            identifiers=Identifiers(advertising_id=device) if device else None,
            properties={"link_id": link.link_id, CLICK_ID: click_id, "platform": link.platform},
        )
        origin = Origin(
            source="link",
            key_id=None,
            trusted=False,
            ip=client_ip(scope, settings.trust_forwarded_for),
            user_agent=ua.decode("latin-1")[:512] if ua else None,
            received_at=now,
        )
        await self.pipeline.store([event], origin, region, is_batch=False)
        return anonymous_id if allowed and self.cookie is not None else None
