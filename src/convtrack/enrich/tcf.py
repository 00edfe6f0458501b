"""IAB TCF v2.2 TC strings: decode the core segment into a frozen ``TcfConsent``.

Follows specs/tracking-protocols.md §7.3. A TC string is ``.``-separated base64url segments
(no padding, 6 bits per character, MSB first); the core segment comes first and has no
segment-type field. Only the core segment is decoded, up to and including the vendor
legitimate-interest section; the publisher restrictions after it and every later segment
(DisclosedVendors, PublisherTC) are ignored. Anything malformed raises ``ConvtrackError``
with code ``invalid_tcf_string`` and a message that says what is wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from convtrack.errors import ConvtrackError

ERROR_CODE = "invalid_tcf_string"
MAX_TC_STRING_CHARS = 8192
SUPPORTED_VERSION = 2

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SEXTETS = {char: value for value, char in enumerate(_ALPHABET)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_RANGE_ENTRY_BITS = 17  # IsARange (1) + StartOrOnlyVendorId (16)


@dataclass(frozen=True)
class TcfConsent:
    """The core segment of a TC string. Id sets are 1-based, as in the spec."""

    version: int
    created: datetime
    last_updated: datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: frozenset[int]
    purpose_consents: frozenset[int]
    purpose_legitimate_interests: frozenset[int]
    purpose_one_treatment: bool
    publisher_country_code: str
    vendor_consents: frozenset[int]
    vendor_legitimate_interests: frozenset[int]

    def purpose_consent(self, purpose: int) -> bool:
        return purpose in self.purpose_consents

    def purpose_legitimate_interest(self, purpose: int) -> bool:
        return purpose in self.purpose_legitimate_interests

    def special_feature_opt_in(self, feature: int) -> bool:
        return feature in self.special_feature_opt_ins

    def vendor_consent(self, vendor_id: int) -> bool:
        return vendor_id in self.vendor_consents

    def vendor_legitimate_interest(self, vendor_id: int) -> bool:
        return vendor_id in self.vendor_legitimate_interests


def invalid(message: str) -> ConvtrackError:
    return ConvtrackError(ERROR_CODE, message)


class _Bits:
    """Reads big-endian unsigned fields from a bit string, failing with a precise message."""

    def __init__(self, value: int, length: int) -> None:
        self._value = value
        self._length = length
        self.position = 0

    @property
    def remaining(self) -> int:
        return self._length - self.position

    def need(self, bits: int, field: str) -> None:
        if bits > self.remaining:
            raise invalid(
                f"TC string core segment is truncated: {field} needs {bits} bits at bit "
                f"{self.position}, but only {self.remaining} remain"
            )

    def uint(self, bits: int, field: str) -> int:
        self.need(bits, field)
        self.position += bits
        return (self._value >> (self._length - self.position)) & ((1 << bits) - 1)

    def flag(self, field: str) -> bool:
        return self.uint(1, field) == 1

    def bitset(self, bits: int, field: str) -> frozenset[int]:
        word = self.uint(bits, field)
        return frozenset(i for i in range(1, bits + 1) if word >> (bits - i) & 1)


def decode_tc_string(tc_string: str) -> TcfConsent:
    """Decode the core segment of an IAB TCF v2 TC string (§7.3)."""
    if len(tc_string) > MAX_TC_STRING_CHARS:
        raise invalid(
            f"TC string is {len(tc_string)} characters; the limit is {MAX_TC_STRING_CHARS}"
        )
    core = tc_string.split(".", 1)[0]
    bits = _decode_base64url(core)
    version = bits.uint(6, "Version")
    if version != SUPPORTED_VERSION:
        raise invalid(
            f"TC string version is {version}; only version {SUPPORTED_VERSION} is supported"
        )
    return TcfConsent(
        version=version,
        created=_deciseconds(bits.uint(36, "Created")),
        last_updated=_deciseconds(bits.uint(36, "LastUpdated")),
        cmp_id=bits.uint(12, "CmpId"),
        cmp_version=bits.uint(12, "CmpVersion"),
        consent_screen=bits.uint(6, "ConsentScreen"),
        consent_language=_letters(bits, "ConsentLanguage"),
        vendor_list_version=bits.uint(12, "VendorListVersion"),
        policy_version=bits.uint(6, "TcfPolicyVersion"),
        is_service_specific=bits.flag("IsServiceSpecific"),
        use_non_standard_texts=bits.flag("UseNonStandardTexts"),
        special_feature_opt_ins=bits.bitset(12, "SpecialFeatureOptIns"),
        purpose_consents=bits.bitset(24, "PurposesConsent"),
        purpose_legitimate_interests=bits.bitset(24, "PurposesLITransparency"),
        purpose_one_treatment=bits.flag("PurposeOneTreatment"),
        publisher_country_code=_letters(bits, "PublisherCC"),
        vendor_consents=_vendor_section(bits, "VendorConsents"),
        vendor_legitimate_interests=_vendor_section(bits, "VendorLegitimateInterests"),
    )


def _decode_base64url(segment: str) -> _Bits:
    if not segment:
        raise invalid("TC string core segment is empty")
    value = 0
    for index, char in enumerate(segment):
        sextet = _SEXTETS.get(char)
        if sextet is None:
            raise invalid(
                f"TC string core segment has {char!r} at character {index}; "
                "only base64url characters A-Z a-z 0-9 - _ are allowed, without '=' padding"
            )
        value = value << 6 | sextet
    return _Bits(value, 6 * len(segment))


def _deciseconds(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value * 100)


def _letters(bits: _Bits, field: str) -> str:
    first, second = bits.uint(6, field), bits.uint(6, field)
    if first > 25 or second > 25:
        raise invalid(f"TC string {field} holds letter codes {first}, {second}; each must be 0-25")
    return chr(ord("A") + first) + chr(ord("A") + second)


def _vendor_section(bits: _Bits, field: str) -> frozenset[int]:
    max_vendor_id = bits.uint(16, f"{field} MaxVendorId")
    if not bits.flag(f"{field} IsRangeEncoding"):
        return bits.bitset(max_vendor_id, f"{field} bitfield of {max_vendor_id} vendors")
    count = bits.uint(12, f"{field} NumEntries")
    bits.need(count * _MIN_RANGE_ENTRY_BITS, f"{field} range of {count} entries")
    ranges = [_range_entry(bits, field, max_vendor_id, n) for n in range(1, count + 1)]
    return frozenset(v for start, end in _merged(ranges) for v in range(start, end + 1))


def _range_entry(bits: _Bits, field: str, max_vendor_id: int, n: int) -> tuple[int, int]:
    is_range = bits.flag(f"{field} entry {n} IsARange")
    start = bits.uint(16, f"{field} entry {n} StartOrOnlyVendorId")
    end = bits.uint(16, f"{field} entry {n} EndVendorId") if is_range else start
    if not 1 <= start <= end <= max_vendor_id:
        raise invalid(
            f"TC string {field} entry {n} covers vendors {start}-{end}; "
            f"ids must run upwards from 1 to MaxVendorId {max_vendor_id}"
        )
    return start, end


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping ranges merged, so expanding them costs at most MaxVendorId ids."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
