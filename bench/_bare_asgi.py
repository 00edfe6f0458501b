"""A no-op ASGI app that answers every request with the pixel GIF (bench/pixel.py ceiling).

Served by granian exactly like ``convtrack serve`` (ASGI, one worker), it shows what the HTTP
server alone costs, before convtrack does any work for a hit.
"""

from __future__ import annotations

from typing import Any

from convtrack.collect.pixel import GIF

START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"image/gif"), (b"content-length", b"43")],
}
BODY = {"type": "http.response.body", "body": GIF}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(START)
    await send(BODY)
