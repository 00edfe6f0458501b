"""Destinations are plug-ins: the built-ins register the way a third party does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from convtrack.errors import ConfigError
from convtrack.forward import (
    Destination,
    DestinationConfig,
    ForwardEvent,
    HttpRequest,
    UnsendableEvents,
    get,
    register,
    registry,
)
from convtrack.forward.destination import Registry
from forward.samples import FIXED, FIXED_NOW, PLATFORMS, purchase
from forward.test_snapshots import env_for


def test_the_built_ins_are_registered() -> None:
    assert set(PLATFORMS) <= set(registry())
    for name, cls in registry().items():
        assert cls.name == name
        assert cls.kind in ("ads", "analytics", "first_party")
        assert cls.max_batch >= 1


def test_a_third_party_destination_uses_the_same_decorator() -> None:
    local = Registry()

    @local.register
    class Acme(Destination):
        name = "acme"
        kind = "ads"
        max_batch = 2
        default_base_url = "https://acme.test"
        required_env = ("KEY",)

        def build_batch(
            self, events: Sequence[ForwardEvent], config: DestinationConfig
        ) -> HttpRequest:
            return HttpRequest(
                "POST", config.base_url, {}, b"[]", tuple(e.event_id for e in events)
            )

    acme = local.classes["acme"]()
    config = acme.config_from_env({"CONVTRACK_ACME_KEY": "k"})
    assert len(acme.build([purchase("meta", FIXED, index=i) for i in range(3)], config)) == 2
    with pytest.raises(ValueError, match="already registered"):
        local.register(type("Other", (Acme,), {}))


def test_register_needs_a_name() -> None:
    with pytest.raises(TypeError):
        register(type("Nameless", (Destination,), {}))


def test_unknown_destination() -> None:
    with pytest.raises(ConfigError, match="unknown destination 'nope'"):
        get("nope")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_missing_settings_fail_loudly(platform: str) -> None:
    with pytest.raises(ConfigError, match=f"CONVTRACK_{platform.upper()}_"):
        get(platform).config_from_env({})


def test_base_url_override_and_secret_redaction() -> None:
    env = env_for("meta") | {"CONVTRACK_META_BASE_URL": "http://127.0.0.1:9999/"}
    config = get("meta").config_from_env(env)
    assert config.base_url == "http://127.0.0.1:9999"
    assert "fake-token" not in repr(config)
    with pytest.raises(ConfigError, match="BASE_URL"):
        get("meta").config_from_env(env_for("meta") | {"CONVTRACK_META_BASE_URL": "ftp://x"})


def test_events_a_platform_cannot_take_are_named_not_dropped() -> None:
    meta = get("meta")
    config = meta.config_from_env(env_for("meta"))
    old = purchase("meta", FIXED - timedelta(days=8), index=1)
    denied = purchase("meta", FIXED, index=2, consent={"ad_user_data": "denied"})
    fine = purchase("meta", FIXED, index=3)
    no_ua = purchase("meta", FIXED, index=4, user_agent=None)

    good, bad = meta.partition([old, denied, fine, no_ua], config, FIXED_NOW)

    assert [e.event_id for e in good] == ["evt-3"]
    assert set(bad) == {"evt-1", "evt-2", "evt-4"}
    assert "7 days" in bad["evt-1"] and "denied" in bad["evt-2"]
    with pytest.raises(UnsendableEvents) as error:
        meta.build([old, fine], config, now=FIXED_NOW)
    assert list(error.value.reasons) == ["evt-1"]


def refund(platform: str, kind: str) -> ForwardEvent:
    return purchase(
        platform,
        FIXED,
        index=9,
        kind="adjustment",
        adjustment_type=kind,
        original_order_id="ORDER-10042",
        value=99.0,
    )


def test_adjustment_support_is_declared_and_enforced() -> None:
    dm = get("google_dm")
    config = dm.config_from_env(env_for("google_dm"))
    (request,) = dm.build([refund("google_dm", "restatement")], config, now=FIXED_NOW)
    assert request.json()["events"][0]["transactionId"] == "ORDER-10042"
    assert request.json()["events"][0]["conversionValue"] == 99.0
    _, bad = dm.partition([refund("google_dm", "refund")], config, FIXED_NOW)
    assert "cannot take a refund" in bad["evt-9"]
    for name in ("meta", "ga4", "tiktok", "linkedin", "snapchat", "pinterest", "reddit"):
        assert not get(name).supports_adjustments
        assert get(name).adjustments_doc


def test_test_request_needs_a_test_code_where_the_platform_has_one() -> None:
    with pytest.raises(ConfigError, match="TEST_EVENT_CODE"):
        get("meta").test_request(get("meta").config_from_env(env_for("meta")))
    config = get("google_dm").config_from_env(env_for("google_dm"))
    assert get("google_dm").test_request(config).json()["validateOnly"] is True
    config = get("ga4").config_from_env(env_for("ga4"))
    assert "/debug/mp/collect" in get("ga4").test_request(config).url
