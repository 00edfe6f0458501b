"""SKAdNetwork postback signatures (specs/tracking-protocols.md §8.3). Pure, no I/O.

The signed string is the version's fields joined with U+2063 (no trailing separator);
the signature is base64 DER ECDSA over SHA-256 of its UTF-8 bytes. Apple's keys are given
in the spec; ``KeySet`` is injectable so tests can sign with a key pair of their own.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

SEPARATOR = "\u2063"
# Apple's public keys (SubjectPublicKeyInfo, base64 DER), specs §8.3.
APPLE_P256 = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHoLN9z"
    "W4K8y4SPykE3YVK3sVqW6Af0lfx3gg=="
)
APPLE_P192 = (
    "MEkwEwYHKoZIzj0CAQYIKoZIzj0DAQEDMgAEMyHD625uvsmGq4C43cQ9BnfN2xslVT5V1nOmAMP6qaRRUll3PB1JYmgS"
    "m+62sosG"
)
VERSIONS = ("2.0", "2.1", "2.2", "3.0", "4.0")
_SOURCE = "\0source"  # placeholder: source-app-id or source-domain, whichever is present
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "4.0": ("version", "ad-network-id", "source-identifier", "app-id", "transaction-id",
            "redownload", _SOURCE, "fidelity-type", "did-win", "postback-sequence-index"),
    "3.0": ("version", "ad-network-id", "campaign-id", "app-id", "transaction-id", "redownload",
            "source-app-id", "fidelity-type", "did-win"),
    "2.2": ("version", "ad-network-id", "campaign-id", "app-id", "transaction-id", "redownload",
            "source-app-id", "fidelity-type"),
    "2.1": ("version", "ad-network-id", "campaign-id", "app-id", "transaction-id", "redownload",
            "source-app-id"),
}  # fmt: skip
FIELD_ORDER["2.0"] = FIELD_ORDER["2.1"]
OPTIONAL = frozenset({"source-app-id", _SOURCE})  # withheld below the privacy threshold


class BadPostback(ValueError):
    """Why a postback was refused: ``code`` for machines, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KeySet:
    """The public key to verify each version with (base64 DER SubjectPublicKeyInfo)."""

    by_version: dict[str, str] = field(default_factory=dict)

    @classmethod
    def apple(cls) -> KeySet:
        keys = dict.fromkeys(("2.1", "2.2", "3.0", "4.0"), APPLE_P256)
        return cls({**keys, "2.0": APPLE_P192})

    def key(self, version: str) -> ec.EllipticCurvePublicKey:
        key = load_der_public_key(base64.b64decode(self.by_version[version]))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise BadPostback("bad_key", f"the key for version {version} is not an EC key")
        return key


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signed_string(postback: dict[str, Any]) -> str:
    """The fields of ``postback`` its version signs, joined with U+2063."""
    version = postback.get("version")
    if version not in FIELD_ORDER:
        raise BadPostback(
            "unsupported_version",
            f"version must be one of {', '.join(VERSIONS)}; got {version!r}",
        )
    parts = []
    for name in FIELD_ORDER[version]:
        if name == _SOURCE:
            name = "source-app-id" if "source-app-id" in postback else "source-domain"
        if postback.get(name) is None:
            if name in OPTIONAL or name == "source-domain":
                continue
            raise BadPostback("missing_field", f"{name!r} is required in a {version} postback")
        parts.append(_text(postback[name]))
    return SEPARATOR.join(parts)


def verify(postback: dict[str, Any], keys: KeySet) -> None:
    """Return if the signature is Apple's (or the key set's); raise ``BadPostback`` if not."""
    message = signed_string(postback).encode("utf-8")
    signature = postback.get("attribution-signature")
    if not isinstance(signature, str) or not signature:
        raise BadPostback("missing_signature", "'attribution-signature' is required")
    try:
        der = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise BadPostback("bad_signature", "'attribution-signature' is not base64") from None
    version = str(postback["version"])
    if version not in keys.by_version:
        raise BadPostback("unsupported_version", f"no public key for version {version}")
    try:
        keys.key(version).verify(der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise BadPostback(
            "bad_signature", "the attribution signature does not verify against the signed fields"
        ) from None
