"""The advertising id under the default stitching policy: it joins a click's and an install's
anonymous ids, but never two signed-in accounts sharing one device (one user id per person)."""

from __future__ import annotations

from datetime import UTC, datetime

from convtrack.config import Settings
from convtrack.identity import IdentityGraph, StitchPolicy

AT = datetime(2024, 5, 1, tzinfo=UTC)
DEVICE = ("advertising_id_sha256", "d" * 64)


def test_the_device_id_joins_a_click_and_an_install() -> None:
    graph = IdentityGraph(StitchPolicy.from_settings(Settings()))
    click = graph.observe([("anonymous_id", "browser"), DEVICE], AT, "click")
    install = graph.observe([("anonymous_id", "app"), DEVICE], AT, "install")
    assert click.person_id == install.person_id == graph.person_of("anonymous_id", "app")


def test_two_accounts_on_one_device_stay_two_persons() -> None:
    graph = IdentityGraph(StitchPolicy.from_settings(Settings()))
    graph.observe([("anonymous_id", "app"), ("user_id", "ann"), DEVICE], AT, "e1")
    bob = graph.observe([("anonymous_id", "app-2"), ("user_id", "bob"), DEVICE], AT, "e2")
    assert graph.person_of("user_id", "ann") != graph.person_of("user_id", "bob")
    assert [r.reason for r in bob.refused] == ["max_person_user_ids"]
