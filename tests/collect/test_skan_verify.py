"""SKAdNetwork signatures (specs/tracking-protocols.md §8.3): Apple's samples from the spec
verify with Apple's key; every version's field order verifies with a key pair of our own."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from convtrack.collect.skan import decode
from convtrack.collect.skan_verify import BadPostback, KeySet, signed_string, verify
from skan_samples import SAMPLE_30, SAMPLE_40

SEP = "\u2063"


def test_the_spec_samples_verify_with_apples_key() -> None:
    verify(SAMPLE_40, KeySet.apple())
    verify(SAMPLE_30, KeySet.apple())


def test_the_signed_string_of_the_30_sample_is_the_specs() -> None:
    expected = SEP.join(["3.0", "example123.skadnetwork", "42", "525463029",
                         "6aafb7a5-0170-41b5-bbe4-fe71dedf1e28", "true", "1234567891", "1",
                         "true"])  # fmt: skip
    assert signed_string(SAMPLE_30) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [("campaign-id", 43), ("did-win", False), ("app-id", 1), ("transaction-id", "x")],
)
def test_a_tampered_sample_is_refused(field: str, value: Any) -> None:
    with pytest.raises(BadPostback) as caught:
        verify({**SAMPLE_30, field: value}, KeySet.apple())
    assert caught.value.code == "bad_signature"


def test_unsigned_fields_may_change() -> None:
    """conversion-value and coarse-conversion-value are not signed (specs §8.2)."""
    verify({**SAMPLE_30, "conversion-value": 63}, KeySet.apple())
    verify({**SAMPLE_40, "coarse-conversion-value": "low"}, KeySet.apple())


class Signer:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        spki = base64.b64encode(der).decode()
        self.keys = KeySet(dict.fromkeys(("2.0", "2.1", "2.2", "3.0", "4.0"), spki))

    def sign(self, postback: dict[str, Any]) -> dict[str, Any]:
        message = signed_string(postback).encode()
        signature = self.key.sign(message, ec.ECDSA(hashes.SHA256()))
        return {**postback, "attribution-signature": base64.b64encode(signature).decode()}


BASE = {"ad-network-id": "net.skadnetwork", "app-id": 1, "transaction-id": "t-1",
        "redownload": False}  # fmt: skip
POSTBACKS = {
    "2.0": {**BASE, "version": "2.0", "campaign-id": 7, "source-app-id": 9},
    "2.1": {**BASE, "version": "2.1", "campaign-id": 7, "conversion-value": 3},
    "2.2": {**BASE, "version": "2.2", "campaign-id": 7, "source-app-id": 9, "fidelity-type": 0},
    "3.0": {**BASE, "version": "3.0", "campaign-id": 7, "fidelity-type": 1, "did-win": False},
    "4.0": {**BASE, "version": "4.0", "source-identifier": "1234", "source-app-id": 9,
            "fidelity-type": 1, "did-win": True, "postback-sequence-index": 2,
            "coarse-conversion-value": "medium"},
}  # fmt: skip


@pytest.mark.parametrize("version", sorted(POSTBACKS))
def test_every_version_verifies_and_a_tampered_one_does_not(version: str) -> None:
    signer = Signer()
    signed = signer.sign(POSTBACKS[version])
    verify(signed, signer.keys)
    with pytest.raises(BadPostback, match="does not verify"):
        verify({**signed, "app-id": 2}, signer.keys)
    with pytest.raises(BadPostback):  # Apple's key did not sign it
        verify(signed, KeySet.apple())


def test_field_order_per_version() -> None:
    assert signed_string(POSTBACKS["4.0"]).split(SEP) == [
        "4.0", "net.skadnetwork", "1234", "1", "t-1", "false", "9", "1", "true", "2",
    ]  # fmt: skip
    assert signed_string(POSTBACKS["2.2"]).split(SEP) == [
        "2.2", "net.skadnetwork", "7", "1", "t-1", "false", "9", "0",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("postback", "code"),
    [
        ({"version": "1.0"}, "unsupported_version"),
        ({**POSTBACKS["3.0"], "app-id": None}, "missing_field"),
        ({**SAMPLE_30, "attribution-signature": "!!"}, "bad_signature"),
        ({k: v for k, v in SAMPLE_30.items() if k != "attribution-signature"}, "missing_signature"),
    ],
)
def test_unreadable_postbacks_say_why(postback: dict[str, Any], code: str) -> None:
    with pytest.raises(BadPostback) as caught:
        verify(postback, KeySet.apple())
    assert caught.value.code == code


def test_decode_the_40_sample() -> None:
    row = decode(SAMPLE_40, datetime(2024, 5, 1, tzinfo=UTC))
    assert (row.source_identifier, row.coarse_conversion_value, row.conversion_value) == (
        "39", "high", None,
    )  # fmt: skip
    assert (row.fidelity_type, row.postback_sequence_index, row.did_win) == (1, 0, True)
    assert row.source_domain == "example.com" and row.redownload is False
    row30 = decode(SAMPLE_30, datetime(2024, 5, 1, tzinfo=UTC))
    assert (row30.source_identifier, row30.conversion_value, row30.source_app_id) == (
        "42", 20, 1234567891,
    )  # fmt: skip


def test_decode_refuses_values_out_of_range() -> None:
    with pytest.raises(BadPostback, match="conversion-value"):
        decode({**SAMPLE_30, "conversion-value": 64}, datetime.now(UTC))
    with pytest.raises(BadPostback, match="coarse"):
        decode({**SAMPLE_40, "coarse-conversion-value": "huge"}, datetime.now(UTC))
