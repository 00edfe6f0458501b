"""``/v1/admin/links``: create (POST) and list (GET) click links (``convtrack links``).

Behind the admin token; the CLI uses it while the server holds the store (cli/links.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from convtrack.asgi import Receive, Scope, Send, only, read_json, send_json
from convtrack.collect.links import new_link
from convtrack.errors import ConvtrackError
from convtrack.store.base import EventStore
from convtrack.store.links_model import LINK_COLUMNS, Link
from convtrack.web.admin import require_token

PATH = "/v1/admin/links"
Text = Annotated[str, msgspec.Meta(max_length=2048)]


class LinkIn(msgspec.Struct, forbid_unknown_fields=True):
    to: Text
    campaign: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    source: Annotated[str, msgspec.Meta(max_length=256)] = ""
    medium: Annotated[str, msgspec.Meta(max_length=256)] = ""
    platform: str = "web"


def link_json(link: Link) -> dict[str, Any]:
    out = {c: getattr(link, c) for c in LINK_COLUMNS}
    out["created_at"] = link.created_at.isoformat()
    return out


@dataclass
class LinksApi:
    store: EventStore
    token: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        require_token(scope, self.token)
        only(scope, "GET, POST")
        if scope["method"] == "GET":
            links = await asyncio.to_thread(self.store.list_links)
            await send_json(send, 200, {"links": [link_json(x) for x in links]})
            return
        try:
            body = msgspec.json.decode(await read_json(scope, receive, 64 * 1024), type=LinkIn)
        except msgspec.DecodeError as exc:
            raise ConvtrackError("invalid_link", f"The link is invalid: {exc}", 422) from None
        link = new_link(body.to, body.campaign, body.source, body.medium, body.platform)
        await asyncio.to_thread(self.store.insert_link, link)
        await send_json(send, 201, link_json(link))
