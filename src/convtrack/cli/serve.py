"""``convtrack serve``: prepare the store, print how to use it, run the HTTP server."""

from __future__ import annotations

import os
import socket

from convtrack.cli.ops import SERVER_FILE, running_server, write_server_file
from convtrack.config import Settings
from convtrack.errors import ConvtrackError
from convtrack.keys import create_key
from convtrack.server import admin_token
from convtrack.store import open_store


def prepare(settings: Settings) -> str | None:
    """Migrate the store; on first start create a public key. Returns a new key, if made."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    admin_token(settings.data_dir)
    with open_store(settings.store_url) as store:
        store.migrate()
        if store.list_keys():
            return None
        _, plaintext = create_key(store, "default", "public")
        return plaintext


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
    from granian.server import Server

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
        Server(
            "convtrack.server:app_from_env",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=1,  # one writer per DuckDB file
            factory=True,
            backpressure=settings.max_concurrency,
            log_level=settings.log_level,  # type: ignore[arg-type]
            log_access=False,
        ).serve()
    finally:
        if (settings.data_dir / SERVER_FILE).exists():
            server_file.unlink(missing_ok=True)
    return 0
