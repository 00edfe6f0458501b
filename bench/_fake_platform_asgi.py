"""A minimal ad-platform endpoint for bench/forward_throughput.py: reads the whole request body
and answers 200 with a Meta-shaped success, doing no other work (granian, one worker)."""

from __future__ import annotations

from typing import Any

BODY = b'{"events_received":1,"messages":[],"fbtrace_id":"bench"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
