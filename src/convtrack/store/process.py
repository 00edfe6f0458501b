"""The store in a process of its own, so DuckDB never waits for the collector's GIL.

In one process, every DuckDB call made by the writer thread has to win the GIL back from a
busy event loop: measured here, a trivial call took ~28 ms beside a busy Python thread
(0.2 ms alone), and commits crawled. So ``convtrack serve`` runs the store and its group-commit
writer in a child process (``_child_main``) and talks to it over a pipe:

- ``RemoteWriter.submit`` queues events; the queue is flushed once per event-loop turn as one
  msgpack message; the child acknowledges each request after the commit that stored it
  (acknowledgements of one commit travel together);
- ``RemoteStore`` forwards every other ``EventStore`` method as a call (both in remote.py);
  a call that reports progress (``StoreProcess.call_reporting``: the export) gets a
  ``progress`` callback in the child whose calls travel to the parent as ``progress``
  messages, ahead of the call's result on the same pipe, so none is lost or overtaken.

The child dies with its parent (``PR_SET_PDEATHSIG``) or when the pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import itertools
import logging
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from convtrack.errors import ConvtrackError, StoreBusy, StoreUnavailable
from convtrack.events import DecisionRecord, Event, Rejected, dec_hook, enc_hook
from convtrack.store.base import (
    EventStore,
)
from convtrack.store.remote import RemoteStore, RemoteWriter
from convtrack.store.writer import Done, WriterStats

log = logging.getLogger("convtrack.store")
Jobs = list[tuple[int, list[Event], list[Rejected]]]


def encode_jobs(jobs: Jobs) -> tuple[list[str], bytes]:
    """Queued appends as one message: the distinct consent decision records' JSON texts, and
    the jobs in msgpack where each event carries the index of its record in those texts.

    Most events of a batch share a few records (enrich.privacy: one per decision), so each
    text crosses once per message instead of once per event (~500 bytes an event).
    """
    texts: list[str] = []
    index: dict[str, int] = {}

    def hook(obj: Any) -> Any:
        if isinstance(obj, DecisionRecord):
            found = index.get(obj.json)
            if found is None:
                found = index[obj.json] = len(texts)
                texts.append(obj.json)
            return found
        return enc_hook(obj)

    return texts, msgspec.msgpack.Encoder(enc_hook=hook).encode(jobs)


def decode_jobs(texts: list[str], payload: bytes) -> Jobs:
    """The inverse of ``encode_jobs``: events sharing a record share one ``DecisionRecord``."""
    records = [DecisionRecord(text) for text in texts]

    def hook(typ: type, obj: Any) -> Any:
        if typ is DecisionRecord and type(obj) is int:
            return records[obj]
        return dec_hook(typ, obj)

    return msgspec.msgpack.Decoder(Jobs, dec_hook=hook).decode(payload)


def die_with_parent() -> None:
    """Exit when the parent process dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)


def _error_info(exc: BaseException) -> tuple[str, str, int, list[Any]]:
    if isinstance(exc, ConvtrackError):
        return exc.code, exc.message, exc.status, exc.details
    return "store_error", f"{type(exc).__name__}: {exc}", 500, []


def _child_main(conn: Connection, url: str, writer_options: dict[str, Any]) -> None:
    """Entry point of the store process."""
    from convtrack.store.base import open_store

    die_with_parent()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        store = open_store(url)
    except Exception as exc:
        conn.send(("failed", _error_info(exc)))
        return
    _StoreServer(conn, store, writer_options).serve()


LONG_CALLS = frozenset({"export_parquet", "rebuild_identity", "purge_before"})


class _StoreServer:
    """The store process: a receive loop, the group-commit writer, a small pool for calls."""

    def __init__(self, conn: Connection, store: EventStore, writer_options: dict[str, Any]):
        from convtrack.store.writer import GroupCommitWriter

        self.conn = conn
        self.store = store
        self._send_lock = threading.Lock()
        self._acks: list[tuple[int, Any]] = []  # touched by the writer thread only
        self.writer = GroupCommitWriter(store, after_commit=self._flush_acks, **writer_options)
        self.calls = ThreadPoolExecutor(max_workers=2, thread_name_prefix="convtrack-store-call")
        # calls that may run for minutes get a thread of their own, so they never hold up
        # claims, session lookups or health queries waiting for the two above
        self.long_calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convtrack-long")

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock, contextlib.suppress(OSError):  # OSError: the parent is gone
            self.conn.send(message)

    def serve(self) -> None:
        self.writer.start()
        self.send(("ready",))
        try:
            while (message := self.conn.recv())[0] != "stop":
                if message[0] == "append":
                    self._append(message[1], message[2])
                elif message[0] == "call" and message[2] in LONG_CALLS:
                    self.long_calls.submit(self._call, *message[1:])
                elif message[0] == "call":
                    self.calls.submit(self._call, *message[1:])
        except EOFError:  # the parent is gone
            pass
        finally:
            self.writer.stop()
            self.calls.shutdown()
            self.long_calls.shutdown()
            self.store.close()
            self.send(("stopped",))

    def _append(self, texts: list[str], payload: bytes) -> None:
        for req_id, events, rejected in decode_jobs(texts, payload):
            try:
                self.writer.submit(events, rejected, functools.partial(self._done, req_id))
            except Exception as exc:  # refused (queue full, stopping): say so at once
                self.send(("acks", [(req_id, _error_info(exc))], asdict(self.writer.stats)))

    def _done(self, req_id: int, error: BaseException | None) -> None:
        self._acks.append((req_id, None if error is None else _error_info(error)))

    def _flush_acks(self) -> None:  # once per commit: the acks of one commit travel together
        batch, self._acks = self._acks, []
        self.send(("acks", batch, asdict(self.writer.stats)))

    def _call(self, req_id: int, method: str, args: tuple[Any, ...], reports: bool = False) -> None:
        kwargs = {"progress": functools.partial(self._progress, req_id)} if reports else {}
        try:
            self.send(("result", req_id, True, getattr(self.store, method)(*args, **kwargs)))
        except Exception as exc:
            self.send(("result", req_id, False, _error_info(exc)))

    def _progress(self, req_id: int, *report: Any) -> None:
        self.send(("progress", req_id, *report))


class StoreProcess:
    """The parent's side: one pipe, a reader thread, and the two facades."""

    def __init__(self, url: str, writer_options: dict[str, Any], queue_max_events: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_child_main,
            args=(child, url, writer_options),
            name="convtrack-store",
            daemon=True,
        )
        self._process.start()
        child.close()
        first = self._conn.recv()
        if first[0] == "failed":
            self._process.join()
            code, message, status, details = first[1]
            raise ConvtrackError(code, message, status, details)
        self._send_lock = threading.Lock()
        self._ids = itertools.count()
        self._calls: dict[int, Future[Any]] = {}
        self._reporters: dict[int, Callable[..., None]] = {}  # req_id -> progress callback
        self._appends: dict[int, tuple[int, Done | None]] = {}
        self._outbox: Jobs = []
        self._flush_scheduled = False
        self.dead = False
        self.pending = 0
        self._pending_lock = threading.Lock()
        self.queue_max_events = queue_max_events
        self.stats = WriterStats()
        self._stopped = threading.Event()
        self._reader = threading.Thread(
            target=self._read, name="convtrack-store-reader", daemon=True
        )
        self._reader.start()
        self.store = RemoteStore(self, url)
        self.writer = RemoteWriter(self)

    # -- sending ------------------------------------------------------------------------
    def _send(self, message: tuple[Any, ...]) -> None:
        if self.dead:
            raise StoreUnavailable()
        with self._send_lock:
            self._conn.send(message)

    def call(self, method: str, *args: Any) -> Any:
        req_id = next(self._ids)
        future: Future[Any] = Future()
        self._calls[req_id] = future
        self._send(("call", req_id, method, args))
        return future.result()

    def call_reporting(self, method: str, progress: Callable[..., None], *args: Any) -> Any:
        """``call``, where the child passes the method a ``progress`` callback whose calls
        reach ``progress`` here, on the reader thread, all before the call returns."""
        req_id = next(self._ids)
        future: Future[Any] = Future()
        self._calls[req_id] = future
        self._reporters[req_id] = progress
        try:
            self._send(("call", req_id, method, args, True))
            return future.result()
        finally:
            self._reporters.pop(req_id, None)

    def submit(
        self, events: Sequence[Event], rejected: Sequence[Rejected], done: Done | None
    ) -> None:
        size = len(events) + len(rejected)
        if self.dead:
            raise StoreUnavailable()
        with self._pending_lock:
            if self.pending + size > self.queue_max_events:
                raise StoreBusy(retry_after=1)
            self.pending += size
        req_id = next(self._ids)
        self._appends[req_id] = (size, done)
        self._outbox.append((req_id, list(events), list(rejected)))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if not self._flush_scheduled:  # one message per event-loop turn
            self._flush_scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        jobs, self._outbox = self._outbox, []
        if not jobs:
            return
        try:
            self._send(("append", *encode_jobs(jobs)))
        except (StoreUnavailable, OSError):  # the store process is gone
            self._fail([req_id for req_id, _, _ in jobs])

    # -- receiving ----------------------------------------------------------------------
    def _read(self) -> None:
        try:
            while True:
                message = self._conn.recv()
                kind = message[0]
                if kind == "acks":
                    self._acked(message[1], message[2])
                elif kind == "progress":
                    self._report(message[1], message[2:])
                elif kind == "result":
                    _, req_id, ok, value = message
                    future = self._calls.pop(req_id)
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(ConvtrackError(*value))
                elif kind == "stopped":
                    break
        except (EOFError, OSError):
            log.error("the store process is gone; the collector answers 503 until restarted")
        finally:
            self._fail_everything()
            self._stopped.set()

    def _report(self, req_id: int, report: tuple[Any, ...]) -> None:
        reporter = self._reporters.get(req_id)
        if reporter is None:
            return
        try:
            reporter(*report)
        except Exception:  # a broken listener never stops the reader (or the call)
            log.exception("could not deliver a progress report")

    def _acked(self, acks: list[tuple[int, Any]], stats: dict[str, Any]) -> None:
        self.stats = WriterStats(**stats)
        for req_id, error_info in acks:
            size, done = self._appends.pop(req_id)
            with self._pending_lock:
                self.pending -= size
            if done is None:
                continue
            error = None if error_info is None else StoreUnavailable()
            try:
                done(error)
            except Exception:
                log.exception("could not deliver a commit result")

    def _fail_everything(self) -> None:
        self.dead = True
        for req_id in list(self._calls):
            future = self._calls.pop(req_id, None)
            if future is not None:
                future.set_exception(StoreUnavailable())
        self._fail(list(self._appends))

    def _fail(self, req_ids: list[int]) -> None:
        """Answer these writes with 503: the store process is gone."""
        for req_id in req_ids:
            entry = self._appends.pop(req_id, None)
            if entry is None:
                continue
            size, done = entry
            with self._pending_lock:
                self.pending -= size
            if done is not None:
                try:
                    done(StoreUnavailable())
                except Exception:
                    log.exception("could not deliver a commit result")

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, close the store, end the child."""
        if not self.dead:
            self.flush()
            self._send(("stop",))
            self._stopped.wait(timeout)
        self._process.join(timeout)
        self._conn.close()
