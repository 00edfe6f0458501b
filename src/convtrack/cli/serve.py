"""``convtrack serve``: prepare the store, print how to use it, run the HTTP server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from typing import Any

from convtrack.cli.ops import SERVER_FILE, running_server, write_server_file
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.forward import enabled as forward_enabled
from convtrack.keys import create_key
from convtrack.plan import PlanError
from convtrack.plan.active import compile_file, problem_lines
from convtrack.server import admin_token
from convtrack.store import open_store


def prepare(settings: Settings) -> str | None:
    """Check the plan, migrate the store; on first start create a public key (returned)."""
    check_plan(settings.plan)
    forward_enabled.configure(settings)  # each enabled destination's credentials are set
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    admin_token(settings.data_dir)
    with open_store(settings.store_url) as store:
        store.migrate()
        if store.list_keys():
            return None
        _, plaintext = create_key(store, "default", "public")
        return plaintext


def check_plan(path: str) -> None:
    """Refuse to start on a plan that does not lint clean, listing every problem."""
    try:
        compile_file(path)
    except PlanError as exc:
        lines = "\n".join(problem_lines(exc))
        raise ConvtrackError(
            "invalid_plan", f"the tracking plan has problems; fix them and start again:\n{lines}"
        ) from None


def banner(settings: Settings, new_key: str | None) -> str:
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"convtrack listening on {url}", f"  store:     {settings.store_url}"]
    if new_key:
        lines += [
            f"  write key: {new_key}   (public; shown once, only its hash is stored)",
            f"  demo page: {url}/demo?key={new_key}",
        ]
    else:
        lines += [
            f"  demo page: {url}/demo",
            "  write key: see `convtrack keys list`; make a new one with "
            "`convtrack keys create --name web`",
        ]
    lines.append(
        '  try:      convtrack events tail   |   convtrack sql "SELECT count(*) FROM events"'
    )
    return "\n".join(lines)


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on.

    granian listens with SO_REUSEPORT, so a second server on a busy port would start without
    complaint and silently take part of the first one's connections. A plain bind (with
    SO_REUSEADDR, so connections in TIME_WAIT do not count) fails on such a port.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConvtrackError(
                "port_in_use",
                f"{host}:{port} is already in use ({exc.strerror}); choose another --port.",
                409,
            ) from None


def run(settings: Settings) -> int:
    from granian.constants import Interfaces

    holder = running_server(settings.data_dir)
    if holder is not None:
        raise ConvtrackError(
            "already_running",
            f"A convtrack server already serves {settings.data_dir} at {holder}.",
            409,
        )
    _check_port_free(settings.host, settings.port)
    new_key = prepare(settings)
    print(banner(settings, new_key), flush=True)
    os.environ.update(settings.as_env())
    server_file = write_server_file(settings.data_dir, f"http://{settings.host}:{settings.port}")
    try:
        _server_class()(
            "convtrack.server:app_from_env",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=1,  # one writer per DuckDB file
            factory=True,
            backpressure=settings.max_concurrency,
            log_level=settings.log_level,
            log_access=False,
        ).serve()
    finally:
        if (settings.data_dir / SERVER_FILE).exists():
            server_file.unlink(missing_ok=True)
    return 0


def _server_class() -> Any:
    """granian's server, except on SIGHUP: forward it to the worker, which reloads the plan.

    granian itself answers SIGHUP by respawning its workers (granian/server/common.py
    ``_reload``): a new worker, and with it a second store process, would start while the
    old one still holds the DuckDB file. Forwarding keeps one worker and drops no request.
    """
    from granian.server import MPServer  # worker processes: what ``Server`` is on this build

    class PlanReloadingServer(MPServer):
        def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
            for worker in self.wrks:
                pid = getattr(worker.inner, "pid", None)
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGHUP)

    return PlanReloadingServer
