"""Fixtures for the forward stage: fake platform endpoints on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from forward.fakes import FakePlatform


@pytest.fixture
def fake_platform() -> Iterator[Callable[[str], FakePlatform]]:
    """``fake_platform("meta")`` starts a spec-checking fake that stops after the test."""
    started: list[FakePlatform] = []

    def start(name: str) -> FakePlatform:
        fake = FakePlatform(name).__enter__()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.__exit__(None, None, None)
