"""Opening a PostgreSQL store that cannot be reached fails with one clear error (no server)."""

from __future__ import annotations

import socket

import pytest

from convtrack.errors import ConvtrackError
from convtrack.store import open_store
from convtrack.store.postgres.store import display_url


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_unreachable_server_is_a_clear_error() -> None:
    url = f"postgresql://app:s3cret@127.0.0.1:{closed_port()}/events?connect_timeout=2"
    with pytest.raises(ConvtrackError) as info:
        open_store(url)
    assert info.value.code == "store_unavailable" and info.value.status == 503
    assert "Could not connect to PostgreSQL at postgresql://app@127.0.0.1:" in info.value.message
    assert "s3cret" not in info.value.message


def test_display_url_drops_the_password() -> None:
    assert (
        display_url("postgresql://u:pw@db.example:5433/ct") == "postgresql://u@db.example:5433/ct"
    )
    assert display_url("host=db dbname=ct password=pw") == "postgresql://db/ct"
