"""``destinations test``: what a destination that cannot be tested here answers."""

from __future__ import annotations

import asyncio

import pytest

from convtrack.errors import ConvtrackError
from convtrack.forward import service


def refusal(name: str, env: dict[str, str]) -> ConvtrackError:
    with pytest.raises(ConvtrackError) as info:
        asyncio.run(service.test(name, env))
    return info.value


def test_a_destination_without_a_test_mode_is_a_conflict_not_a_server_error() -> None:
    env = {"CONVTRACK_WEBHOOK_URL": "http://127.0.0.1:9/hook", "CONVTRACK_WEBHOOK_SECRET": "s" * 32}
    err = refusal("webhook", env)
    assert (err.status, err.code) == (409, "destination_not_testable")
    assert "no test mode" in err.message


def test_missing_settings_are_named() -> None:
    err = refusal("meta", {})
    assert (err.status, err.code) == (409, "destination_not_testable")
    assert "CONVTRACK_META_PIXEL_ID" in err.message and "CONVTRACK_META_ACCESS_TOKEN" in err.message
    err = refusal(
        "meta", {"CONVTRACK_META_PIXEL_ID": "1", "CONVTRACK_META_ACCESS_TOKEN": "tok-secret-7"}
    )
    assert err.code == "destination_not_testable" and "TEST_EVENT_CODE" in err.message
    assert "tok-secret-7" not in err.message


def test_an_unknown_destination_is_not_found() -> None:
    assert refusal("nope", {}).status == 404
