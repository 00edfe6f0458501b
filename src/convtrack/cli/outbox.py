"""``convtrack outbox list|show|retry|replay``, ``convtrack forward`` and
``convtrack destinations list|test|resume``: the forwarding outbox for operators.

Through the running server's admin API when one holds the store, else straight on the store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from convtrack.cli.args import settings_args
from convtrack.cli.ops import ServerOps, running_server
from convtrack.cli.output import table
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.forward import service
from convtrack.forward.enabled import configure
from convtrack.forward.policy import WorkerOptions
from convtrack.forward.worker import Forwarder
from convtrack.store import EventStore, open_store
from convtrack.store.outbox_model import STATUSES

LIST_COLUMNS = ["job_id", "destination", "platform_event", "status", "attempts",
                "next_attempt_at", "last_error"]  # fmt: skip
DESTINATION_COLUMNS = [
    "destination",
    "enabled",
    "paused_at",
    *STATUSES,
    "oldest_pending_at",
    "reason",
]


class OutboxOps(Protocol):
    def list_jobs(self, status: str | None, destination: str | None, limit: int) -> Any: ...
    def show(self, key: str) -> Any: ...
    def retry(self, job_id: str | None, destination: str | None) -> Any: ...
    def replay(self, job_id: str | None, destination: str | None) -> Any: ...
    def destinations(self) -> Any: ...
    def test(self, name: str) -> Any: ...
    def resume(self, name: str) -> Any: ...
    def close(self) -> None: ...


class ServerOutbox(ServerOps):
    def list_jobs(self, status: str | None, destination: str | None, limit: int) -> Any:
        params = {"status": status, "destination": destination, "limit": limit}
        query = {k: v for k, v in params.items() if v is not None}
        return self._call("GET", "/v1/admin/outbox", params=query)

    def show(self, key: str) -> Any:
        return self._call("GET", "/v1/admin/outbox/show", params={"id": key})

    def retry(self, job_id: str | None, destination: str | None) -> Any:
        body = {"job_id": job_id, "destination": destination}
        return self._call("POST", "/v1/admin/outbox/retry", json=body)

    def replay(self, job_id: str | None, destination: str | None) -> Any:
        body = {"job_id": job_id, "destination": destination}
        return self._call("POST", "/v1/admin/outbox/replay", json=body)

    def destinations(self) -> Any:
        return self._call("GET", "/v1/admin/destinations")

    def test(self, name: str) -> Any:
        return self._call("POST", "/v1/admin/destinations/test", json={"name": name})

    def resume(self, name: str) -> Any:
        return self._call("POST", "/v1/admin/destinations/resume", json={"name": name})


class StoreOutbox:
    def __init__(self, store: EventStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def list_jobs(self, status: str | None, destination: str | None, limit: int) -> Any:
        return service.list_jobs(self.store, status, destination, limit)

    def show(self, key: str) -> Any:
        return service.show(self.store, key)

    def retry(self, job_id: str | None, destination: str | None) -> Any:
        return service.retry(self.store, job_id, destination)

    def replay(self, job_id: str | None, destination: str | None) -> Any:
        return service.replay(self.store, job_id, destination)

    def destinations(self) -> Any:
        return service.destinations(self.store, self.settings)

    def test(self, name: str) -> Any:
        return asyncio.run(service.test(name))

    def resume(self, name: str) -> Any:
        return service.resume(self.store, name)

    def close(self) -> None:
        self.store.close()


@contextlib.contextmanager
def outbox_session(settings: Settings, *, write: bool = False) -> Iterator[OutboxOps]:
    url = running_server(settings.data_dir)
    ops: OutboxOps
    if url is not None:
        ops = ServerOutbox(url, (settings.data_dir / "admin.token").read_text().strip())
    else:
        store = open_store(settings.store_url, read_only=not write)
        if write:
            store.migrate()
        ops = StoreOutbox(store, settings)
    try:
        yield ops
    finally:
        ops.close()


def register(sub: Any) -> None:
    _register_outbox(sub)
    fwd = sub.add_parser("forward", help="run the delivery workers only (no HTTP server)")
    settings_args(fwd)
    fwd.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    fwd.set_defaults(func=forward)
    _register_destinations(sub)


def _register_outbox(sub: Any) -> None:
    group = sub.add_parser("outbox", help="the forwarding outbox: jobs, dead letters, replay")
    actions = group.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    lst = actions.add_parser("list", help="outbox jobs, newest first")
    settings_args(lst)
    lst.add_argument("--status", choices=list(STATUSES), help="default: every status")
    lst.add_argument("--destination", help="only this destination, e.g. meta")
    lst.add_argument("--limit", type=int, default=50, help="at most this many jobs (default 50)")
    lst.add_argument("--format", choices=["table", "json"], default="table")
    lst.set_defaults(func=outbox_list)
    show = actions.add_parser("show", help="a job (or an event's jobs) with its delivery log")
    settings_args(show)
    show.add_argument("id", help="a job id (EVENT_ID:DESTINATION) or an event id")
    show.set_defaults(func=outbox_show)
    for name, func, text in (
        ("retry", outbox_retry, "make waiting (pending) jobs due now"),
        ("replay", outbox_replay, "send dead letters again (each job at most once more)"),
    ):
        p = actions.add_parser(name, help=text)
        settings_args(p)
        p.add_argument("job_id", nargs="?", help="one job id (EVENT_ID:DESTINATION)")
        p.add_argument("--destination", help="every matching job of this destination")
        p.set_defaults(func=func)


def _register_destinations(sub: Any) -> None:
    group = sub.add_parser("destinations", help="forwarding destinations: state, test, resume")
    actions = group.add_subparsers(dest="destinations_command", metavar="ACTION", required=True)
    lst = actions.add_parser("list", help="enabled destinations, paused or not, job counts")
    settings_args(lst)
    lst.add_argument("--format", choices=["table", "json"], default="table")
    lst.set_defaults(func=destinations_list)
    for name, func, text in (
        ("test", destinations_test, "send the platform's test event and print its verdict"),
        ("resume", destinations_resume, "resume a paused destination; its jobs are due now"),
    ):
        p = actions.add_parser(name, help=text)
        settings_args(p)
        p.add_argument("name", help="destination name, e.g. meta")
        p.set_defaults(func=func)


def outbox_list(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings) as ops:
        found = ops.list_jobs(args.status, args.destination, args.limit)
    if args.format == "json":
        print(json.dumps(found, indent=2))
    else:
        print(table(LIST_COLUMNS, [[j.get(c) for c in LIST_COLUMNS] for j in found["jobs"]]))
    return 0


def outbox_show(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings) as ops:
        print(json.dumps(ops.show(args.id), indent=2))
    return 0


def _target(args: argparse.Namespace) -> tuple[str | None, str | None]:
    return args.job_id, args.destination


def outbox_retry(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings, write=True) as ops:
        done = ops.retry(*_target(args))
    print(f"{done['retried']} job(s) due now")
    return 0


def outbox_replay(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings, write=True) as ops:
        done = ops.replay(*_target(args))
    print(f"{done['replayed']} dead letter(s) pending again")
    return 0


def destinations_list(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings) as ops:
        found = ops.destinations()
    if args.format == "json":
        print(json.dumps(found, indent=2))
    else:
        rows = [[d.get(c) for c in DESTINATION_COLUMNS] for d in found["destinations"]]
        print(table(DESTINATION_COLUMNS, rows))
    return 0


def destinations_test(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings) as ops:
        verdict = ops.test(args.name)
    status = verdict["http_status"] or "no answer"
    print(f"{verdict['destination']}: {verdict['verdict']} (HTTP {status})")
    if verdict["message"]:
        print(verdict["message"])
    return 0 if verdict["verdict"] == "accepted" else 1


def destinations_resume(args: argparse.Namespace, settings: Settings) -> int:
    with outbox_session(settings, write=True) as ops:
        done = ops.resume(args.name)
    print(f"{done['resumed']} resumed; {done['due']} job(s) due now")
    return 0


def forward(args: argparse.Namespace, settings: Settings) -> int:
    holder = running_server(settings.data_dir)
    if holder is not None:
        raise ConvtrackError(
            "already_running",
            f"The server at {holder} holds the store and runs the workers "
            "(forward_in_serve); `convtrack forward` is for when no server runs.",
            409,
        )
    enabled = configure(settings)
    if not enabled:
        raise ConvtrackError(
            "no_destinations", "No destination is enabled: set destinations, e.g. meta,ga4."
        )
    store = open_store(settings.store_url)
    try:
        store.migrate()
        forwarder = Forwarder(store, enabled, WorkerOptions.from_settings(settings))
        asyncio.run(forwarder.drain() if args.once else _forever(forwarder))
    finally:
        store.close()
    return 0


async def _forever(forwarder: Forwarder) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    forwarder.start()
    print(f"forwarding to {', '.join(forwarder.enabled)}; Ctrl-C stops", file=sys.stderr)
    await stop.wait()
    await forwarder.stop()
