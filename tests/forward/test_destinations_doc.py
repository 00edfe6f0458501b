"""docs/destinations.md cannot drift from the destinations."""

from __future__ import annotations

from pathlib import Path

import pytest

from convtrack.forward import get, registry

DOC = (Path(__file__).resolve().parents[2] / "docs" / "destinations.md").read_text()


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_destination_and_variable_is_documented(name: str) -> None:
    destination = get(name)
    assert f"(`{name}`)" in DOC
    for key in (*destination.required_env, *destination.optional_env):
        assert f"`{destination.env_prefix()}{key}`" in DOC, f"undocumented {key} of {name}"
