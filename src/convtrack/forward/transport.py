"""Send one request through an injectable ``httpx.AsyncClient`` and classify the answer.

The caller owns the client (and so its transport, timeouts and connection pool): production
code passes a real one, tests pass one with ``transport=`` or point a destination's base URL at
a loopback fake.
"""

from __future__ import annotations

import time
from dataclasses import replace

import httpx

from convtrack.forward.destination import Destination, HttpRequest
from convtrack.forward.outcome import Outcome, network_error

#: what Meta recommends for its API; a sane default for the others
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_RESPONSE_BYTES = 64 * 1024


async def send(
    request: HttpRequest, client: httpx.AsyncClient, destination: Destination
) -> Outcome:
    """Send ``request`` and return what its destination makes of the response.

    Never raises for network trouble: timeouts, refused and reset connections become a
    ``retry`` outcome. ``latency`` is the wall time in seconds.
    """
    started = time.perf_counter()
    try:
        response = await client.request(
            request.method, request.url, headers=dict(request.headers), content=request.body
        )
        body = response.content[:MAX_RESPONSE_BYTES]
    except httpx.HTTPError as error:
        outcome = network_error(error, request.secrets)
    else:
        outcome = destination.classify(response.status_code, dict(response.headers), body, request)
    return replace(outcome, latency=time.perf_counter() - started)
