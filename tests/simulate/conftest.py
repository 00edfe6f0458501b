"""Fixtures for the simulator: one small seeded simulation shared by the pure tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from convtrack.simulate.simulation import Params, Simulation, simulate
from convtrack.simulate.truth import build_truth

START = datetime(2025, 3, 3, tzinfo=UTC)


def small_params(seed: int = 7, visitors: int = 400, days: int = 14) -> Params:
    return Params(seed=seed, visitors=visitors, start=START, end=START + timedelta(days=days))


@pytest.fixture(scope="session")
def sim() -> Simulation:
    return simulate(small_params())


@pytest.fixture(scope="session")
def truth(sim: Simulation) -> dict:
    return build_truth(sim)


@pytest.fixture(scope="session")
def make_params() -> Callable[..., Params]:
    """``make_params(seed=, visitors=, days=)``: the parameters of a small run."""
    return small_params
