"""No raw personal data leaves through a field that the platform expects hashed."""

from __future__ import annotations

import pytest

from convtrack.forward import get
from forward.samples import FIXED, FIXED_NOW, PLATFORMS, USER_DATA, purchase
from forward.test_snapshots import env_for
from forward.validators import HEX64

RAW = {
    "email": "Person@Example.com",
    "phone": "+44 844 412 4653",
    "first_name": "Mary",
    "last_name": "Jane",
    "city": "New York",
    "state": "NY",
    "zip": "94025",
    "country": "us",
    "date_of_birth": "19900102",
    "gender": "f",
    "external_id": "crm-777",
}
#: fields each platform takes in plain text (everything else must be a SHA-256 digest)
PLAIN = {
    "google_dm": {"zip", "country"},
    "ga4": {"city", "state", "zip", "country"},
    "linkedin": {"first_name", "last_name", "country"},
    "webhook": set(RAW),
}
ALWAYS_RAW = ("Person@Example.com", "+44 844 412 4653", "19900102")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_raw_values_in_hashed_fields_are_never_sent(platform: str) -> None:
    destination = get(platform)
    config = destination.config_from_env(env_for(platform))
    hashed_fields = set(RAW) - PLAIN.get(platform, set())
    event = purchase(platform, FIXED, user_data={k: RAW[k] for k in hashed_fields})

    (request,) = destination.build([event], config, now=FIXED_NOW)

    body = request.body.decode()
    if platform != "webhook":
        for raw in ALWAYS_RAW:
            assert raw not in body, f"{platform} sent {raw!r}"
        for field in hashed_fields:
            assert f'"{RAW[field]}"' not in body, f"{platform} sent raw {field}"


@pytest.mark.parametrize("platform", ["google_dm", "ga4"])
def test_digests_in_plain_text_fields_are_not_sent(platform: str) -> None:
    destination = get(platform)
    config = destination.config_from_env(env_for(platform))
    data = dict(USER_DATA[platform])
    data["zip"] = data["email"]  # a hash where the platform needs the postal code itself
    (request,) = destination.build(
        [purchase(platform, FIXED, user_data=data)], config, now=FIXED_NOW
    )
    body = request.json()
    assert "postalCode" not in str(body) and "postal_code" not in str(body)


def test_hashed_user_data_is_lowercase_hex() -> None:
    for platform, data in USER_DATA.items():
        for field, value in data.items():
            if field not in PLAIN.get(platform, set()):
                assert HEX64.match(value), (platform, field)
