"""A minimal ad-platform endpoint for bench/forward_throughput.py: reads the whole request body
and answers 200 with a Meta-shaped success, doing no other work (granian, one worker).

A path starting ``/latency/<ms>/`` answers after that many milliseconds, as a real platform
does (Meta's Conversions API answers a batch in tens to hundreds of milliseconds), without
holding the worker: many requests wait side by side.
"""

from __future__ import annotations

import asyncio
from typing import Any

BODY = b'{"events_received":1,"messages":[],"fbtrace_id":"bench"}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}


def latency(path: str) -> float:
    """Seconds to wait before answering, from a ``/latency/<ms>/…`` path (else none)."""
    parts = path.split("/", 3)
    if len(parts) > 2 and parts[1] == "latency" and parts[2].isdigit():
        return int(parts[2]) / 1000
    return 0.0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    wait = latency(scope["path"])
    if wait:
        await asyncio.sleep(wait)
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
