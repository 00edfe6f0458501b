"""``POST /v1/admin/export`` answered as it goes, for a client that sends
``Accept: application/x-ndjson`` (``convtrack export`` does): one JSON object a line,

- ``{"progress": {"done": n, "total": m, "day": "YYYY-MM-DD"}}`` as the store process starts
  writing each day (``done`` days of ``total`` written; ``day`` is ``""`` once all are);
- then the last line: the export's result (the plain JSON answer), or ``{"error": {...}}``
  (the one error shape) when it failed after the answer began.

The answer begins with the first progress line, so what fails before it (another export
running, a lake of another layout) is still a plain error with its status. An export runs in
a task of its own (``ExportRun``): a client that goes away stops getting lines, never the
export, which writes the lake to its end; the lock is released when it ends.

Progress crosses from the store process's reader thread to the event loop through
``call_soon_threadsafe`` into a queue, ahead of the call's result: no line is lost, and the
loop never waits on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from convtrack.asgi import Receive, Scope, Send, header, send_error
from convtrack.errors import ConvtrackError

log = logging.getLogger("convtrack.export")

NDJSON = b"application/x-ndjson"
HEADERS = [
    (b"content-type", NDJSON),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # a proxy in front passes each line on as it comes
]
Report = Callable[[int, int, str], None]  # (done, total, day)
_encoder = msgspec.json.Encoder()


def wants_ndjson(scope: Scope) -> bool:
    """The client lists ``application/x-ndjson`` in ``Accept``."""
    accept = header(scope, b"accept") or b""
    return any(part.split(b";")[0].strip().lower() == NDJSON for part in accept.split(b","))


class ExportRun:
    """One export in a task of its own, its progress reports queued for one listener."""

    def __init__(self, export: Callable[[Report | None], dict[str, Any]], reports: bool) -> None:
        """Start ``export(report)`` on a thread; ``report`` is None unless ``reports``."""
        loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()  # None: it ended

        def report(done: int, total: int, day: str) -> None:  # any thread
            line = {"progress": {"done": done, "total": total, "day": day}}
            # RuntimeError: the loop closed (the server stops); the export goes on
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.lines.put_nowait, line)

        self.task = asyncio.ensure_future(asyncio.to_thread(export, report if reports else None))
        # runs after every report the export made (they were queued before it returned)
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Future[dict[str, Any]]) -> None:
        self.lines.put_nowait(None)
        failure = self._failure()  # retrieved here too: its client may be gone
        if failure is not None:
            log.warning("the export failed: %s", failure)

    @property
    def running(self) -> bool:
        return not self.task.done()

    async def result(self) -> dict[str, Any]:
        """The plain answer: the result, or the export's error raised (a cancelled request
        leaves the export running: shielded)."""
        return await asyncio.shield(self.task)

    async def stream(self, receive: Receive, send: Send) -> None:
        """The ndjson answer (see the module doc)."""
        line = await self.lines.get()
        if line is None and self._failure() is not None:  # failed before any progress
            await send_error(send, self._error())
            return
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            while line is not None:
                await send({"type": "http.response.body", "body": _line(line), "more_body": True})
                line = await self.lines.get()
                if gone.done():  # no more lines into the void (granian does not raise)
                    log.info("the export's client went away; the export carries on to its end")
                    return
            await send({"type": "http.response.body", "body": _line(self._last())})
        except OSError:  # the client went away (ASGI lets a server raise a subclass of OSError)
            log.info("the export's client went away; the export carries on to its end")
        finally:
            gone.cancel()

    def _failure(self) -> BaseException | None:
        if self.task.cancelled():  # the server is stopping
            return ConvtrackError("export_failed", "The server stopped during the export.", 503)
        return self.task.exception()

    def _last(self) -> dict[str, Any]:
        return self._error().body() if self._failure() is not None else self.task.result()

    def _error(self) -> ConvtrackError:
        exc = self._failure()
        if isinstance(exc, ConvtrackError):
            return exc
        log.error("the export failed", exc_info=exc)
        return ConvtrackError("export_failed", f"The export stopped: {exc!r}.", 500)


async def _disconnected(receive: Receive) -> None:
    """Returns when the client goes away (the request body was read before)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _line(obj: Any) -> bytes:
    return _encoder.encode(obj) + b"\n"
