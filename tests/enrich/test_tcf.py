"""IAB TCF v2.2 TC string decoder (specs/tracking-protocols.md §7.3)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtrack.enrich.tcf import MAX_TC_STRING_CHARS, TcfConsent, decode_tc_string
from convtrack.errors import ConvtrackError

# Test vector from §7.3 (encoded with @iabtechlabtcf/core, checked against Python iab-tcf).
VECTOR = "CP4bJcAP4bJcAAKACBENCWEoALIAAEHAAAYgF5wAgABALzAvOACAvMAA.IAAA.YAAAAAAAAAAA"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BitWriter:
    """The inverse of the decoder's reader: big-endian fields, zero-padded base64url."""

    def __init__(self) -> None:
        self.bits = ""

    def uint(self, value: int, width: int) -> BitWriter:
        assert 0 <= value < 1 << width or width == value == 0
        self.bits += format(value, f"0{width}b") if width else ""
        return self

    def bitset(self, ids: frozenset[int], width: int) -> BitWriter:
        self.bits += "".join("1" if i in ids else "0" for i in range(1, width + 1))
        return self

    def letters(self, text: str) -> BitWriter:
        return self.uint(ord(text[0]) - 65, 6).uint(ord(text[1]) - 65, 6)

    def encode(self) -> str:
        padded = self.bits + "0" * (-len(self.bits) % 6)
        return "".join(ALPHABET[int(padded[i : i + 6], 2)] for i in range(0, len(padded), 6))


def runs(ids: frozenset[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for vendor in sorted(ids):
        if out and vendor == out[-1][1] + 1:
            out[-1] = (out[-1][0], vendor)
        else:
            out.append((vendor, vendor))
    return out


def write_ranges(w: BitWriter, max_id: int, entries: list[tuple[int, int]]) -> BitWriter:
    w.uint(max_id, 16).uint(1, 1).uint(len(entries), 12)
    for start, end in entries:
        w.uint(int(start != end), 1).uint(start, 16)
        if start != end:
            w.uint(end, 16)
    return w


def write_vendors(w: BitWriter, ids: frozenset[int], as_ranges: bool) -> BitWriter:
    max_id = max(ids, default=0)
    if as_ranges:
        return write_ranges(w, max_id, runs(ids))
    return w.uint(max_id, 16).uint(0, 1).bitset(ids, max_id)


def deciseconds(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=100)


def write_header(c: TcfConsent, version: int = 2) -> BitWriter:
    """Every core field up to and including PublisherCC."""
    w = BitWriter().uint(version, 6)
    w.uint(deciseconds(c.created), 36).uint(deciseconds(c.last_updated), 36)
    w.uint(c.cmp_id, 12).uint(c.cmp_version, 12).uint(c.consent_screen, 6)
    w.letters(c.consent_language).uint(c.vendor_list_version, 12).uint(c.policy_version, 6)
    w.uint(int(c.is_service_specific), 1).uint(int(c.use_non_standard_texts), 1)
    w.bitset(c.special_feature_opt_ins, 12).bitset(c.purpose_consents, 24)
    w.bitset(c.purpose_legitimate_interests, 24).uint(int(c.purpose_one_treatment), 1)
    return w.letters(c.publisher_country_code)


def encode(c: TcfConsent, consent_ranges: bool = False, li_ranges: bool = False) -> str:
    w = write_header(c)
    write_vendors(w, c.vendor_consents, consent_ranges)
    return write_vendors(w, c.vendor_legitimate_interests, li_ranges).encode()


SAMPLE = TcfConsent(
    version=2,
    created=datetime(2024, 1, 15, tzinfo=UTC),
    last_updated=datetime(2024, 2, 1, 12, 30, 15, 700000, tzinfo=UTC),
    cmp_id=300,
    cmp_version=7,
    consent_screen=3,
    consent_language="FR",
    vendor_list_version=61,
    policy_version=4,
    is_service_specific=False,
    use_non_standard_texts=True,
    special_feature_opt_ins=frozenset({2}),
    purpose_consents=frozenset({1, 2, 7, 11}),
    purpose_legitimate_interests=frozenset({7, 9}),
    purpose_one_treatment=True,
    publisher_country_code="GB",
    vendor_consents=frozenset({1, 2, 3, 4, 10, 755, 756}),
    vendor_legitimate_interests=frozenset({50}),
)


def error_of(tc_string: str) -> ConvtrackError:
    with pytest.raises(ConvtrackError) as caught:
        decode_tc_string(tc_string)
    assert caught.value.code == "invalid_tcf_string"
    assert caught.value.status == 400
    return caught.value


# --- the spec's test vector -------------------------------------------------------------


def test_spec_vector_field_by_field() -> None:
    tc = decode_tc_string(VECTOR)
    assert tc.version == 2
    assert tc.created == datetime(2024, 1, 15, tzinfo=UTC)
    assert tc.last_updated == datetime(2024, 1, 15, tzinfo=UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (10, 2, 1)
    assert tc.consent_language == "EN"
    assert tc.vendor_list_version == 150
    assert tc.policy_version == 4
    assert tc.is_service_specific is True
    assert tc.use_non_standard_texts is False
    assert tc.special_feature_opt_ins == {1}
    assert tc.purpose_consents == {1, 3, 4, 7}
    assert tc.purpose_legitimate_interests == {2, 8, 9, 10}
    assert tc.purpose_one_treatment is False
    assert tc.publisher_country_code == "DE"
    assert tc.vendor_consents == {2, 755}
    assert tc.vendor_legitimate_interests == {755}


def test_spec_vector_helpers() -> None:
    tc = decode_tc_string(VECTOR)
    assert [p for p in range(0, 26) if tc.purpose_consent(p)] == [1, 3, 4, 7]
    assert [p for p in range(0, 26) if tc.purpose_legitimate_interest(p)] == [2, 8, 9, 10]
    assert tc.special_feature_opt_in(1) and not tc.special_feature_opt_in(2)
    assert tc.vendor_consent(755) and tc.vendor_consent(2)
    assert not tc.vendor_consent(754) and not tc.vendor_consent(0)
    assert tc.vendor_legitimate_interest(755) and not tc.vendor_legitimate_interest(2)


def test_spec_vector_vendor_consents_are_range_encoded() -> None:
    core = VECTOR.split(".")[0]
    bits = "".join(format(ALPHABET.index(ch), "06b") for ch in core)
    section = bits[213:]  # 213 = total width of the fixed core fields
    assert int(section[:16], 2) == 755 and section[16] == "1"


def test_later_segments_are_ignored() -> None:
    core = VECTOR.split(".")[0]
    assert decode_tc_string(core) == decode_tc_string(VECTOR)
    assert decode_tc_string(core + ".not*base64!.x") == decode_tc_string(VECTOR)


def test_result_is_frozen() -> None:
    tc = decode_tc_string(VECTOR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tc.cmp_id = 1  # type: ignore[misc]


# --- encodings of the vendor sections ---------------------------------------------------


@pytest.mark.parametrize("consent_ranges", [False, True])
@pytest.mark.parametrize("li_ranges", [False, True])
def test_bitfield_and_range_encodings_decode_alike(consent_ranges: bool, li_ranges: bool) -> None:
    assert decode_tc_string(encode(SAMPLE, consent_ranges, li_ranges)) == SAMPLE


def test_range_section_with_single_ids_ranges_and_overlaps() -> None:
    w = write_header(SAMPLE)
    write_ranges(w, 65535, [(9, 9), (1, 5), (3, 7), (65530, 65535)])
    write_vendors(w, frozenset(), as_ranges=True)
    tc = decode_tc_string(w.encode())
    assert tc.vendor_consents == {1, 2, 3, 4, 5, 6, 7, 9, *range(65530, 65536)}
    assert tc.vendor_legitimate_interests == frozenset()
    assert tc.vendor_consent(65535) and not tc.vendor_consent(8)


def test_empty_vendor_sections() -> None:
    empty = dataclasses.replace(
        SAMPLE, vendor_consents=frozenset(), vendor_legitimate_interests=frozenset()
    )
    assert decode_tc_string(encode(empty)) == empty


# --- errors -----------------------------------------------------------------------------


def test_too_long() -> None:
    error = error_of("A" * (MAX_TC_STRING_CHARS + 1))
    assert str(MAX_TC_STRING_CHARS) in error.message


@pytest.mark.parametrize("tc_string", ["", ".IAAA", "."])
def test_empty_core_segment(tc_string: str) -> None:
    assert "empty" in error_of(tc_string).message


@pytest.mark.parametrize(
    ("tc_string", "char", "index"),
    [
        ("CP4bJcAP4bJcAA==", "'='", 14),
        ("CP4b+cAP", "'+'", 4),
        ("CP4b/cAP", "'/'", 4),
        ("CP4b cAP", "' '", 4),
        ("CP4bé", "'é'", 4),
    ],
)
def test_bad_base64url(tc_string: str, char: str, index: int) -> None:
    message = error_of(tc_string).message
    assert f"{char} at character {index}" in message


@pytest.mark.parametrize("version", [0, 1, 3, 63])
def test_wrong_version(version: int) -> None:
    tc_string = write_header(SAMPLE, version=version).encode()
    assert f"version is {version}" in error_of(tc_string).message


def test_every_truncation_is_reported() -> None:
    full = encode(SAMPLE)
    for length in range(1, len(full)):
        message = error_of(full[:length]).message
        assert "truncated" in message and "only" in message


def test_truncation_names_the_field() -> None:
    assert "Created needs 36 bits at bit 6" in error_of("CP4b").message


def test_bad_letter_code() -> None:
    w = BitWriter().uint(2, 6).uint(0, 72).uint(0, 30).uint(26, 6).uint(3, 6).uint(0, 200)
    assert "ConsentLanguage holds letter codes 26, 3" in error_of(w.encode()).message


def test_absurd_bitfield_length() -> None:
    w = write_header(SAMPLE).uint(65535, 16).uint(0, 1).uint(0, 40)
    message = error_of(w.encode()).message
    assert "VendorConsents bitfield of 65535 vendors needs 65535 bits" in message


def test_absurd_number_of_range_entries() -> None:
    w = write_header(SAMPLE).uint(10, 16).uint(1, 1).uint(4095, 12).uint(0, 40)
    message = error_of(w.encode()).message
    assert "VendorConsents range of 4095 entries needs 69615 bits" in message


@pytest.mark.parametrize(
    ("max_id", "entry", "covers"),
    [
        (10, (0, 0), "0-0"),
        (10, (6, 5), "6-5"),
        (10, (5, 11), "5-11"),
        (10, (11, 11), "11-11"),
    ],
)
def test_bad_range_entry(max_id: int, entry: tuple[int, int], covers: str) -> None:
    w = write_ranges(write_header(SAMPLE), max_id, [entry])
    write_vendors(w, frozenset(), as_ranges=False)
    message = error_of(w.encode()).message
    assert f"VendorConsents entry 1 covers vendors {covers}" in message
    assert f"MaxVendorId {max_id}" in message


# --- properties -------------------------------------------------------------------------

vendor_ids = st.frozensets(st.integers(1, 2000), max_size=25)
timestamps = st.integers(0, 2**36 - 1).map(lambda ds: EPOCH + timedelta(milliseconds=ds * 100))
country = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@st.composite
def consents(draw: st.DrawFn) -> TcfConsent:
    return TcfConsent(
        version=2,
        created=draw(timestamps),
        last_updated=draw(timestamps),
        cmp_id=draw(st.integers(0, 4095)),
        cmp_version=draw(st.integers(0, 4095)),
        consent_screen=draw(st.integers(0, 63)),
        consent_language=draw(country),
        vendor_list_version=draw(st.integers(0, 4095)),
        policy_version=draw(st.integers(0, 63)),
        is_service_specific=draw(st.booleans()),
        use_non_standard_texts=draw(st.booleans()),
        special_feature_opt_ins=draw(st.frozensets(st.integers(1, 12))),
        purpose_consents=draw(st.frozensets(st.integers(1, 24))),
        purpose_legitimate_interests=draw(st.frozensets(st.integers(1, 24))),
        purpose_one_treatment=draw(st.booleans()),
        publisher_country_code=draw(country),
        vendor_consents=draw(vendor_ids),
        vendor_legitimate_interests=draw(vendor_ids),
    )


@settings(max_examples=200, deadline=None)
@given(consent=consents(), consent_ranges=st.booleans(), li_ranges=st.booleans())
def test_round_trip(consent: TcfConsent, consent_ranges: bool, li_ranges: bool) -> None:
    tc_string = encode(consent, consent_ranges, li_ranges)
    assert decode_tc_string(tc_string + ".IAAA") == consent


@settings(max_examples=300, deadline=None)
@given(tail=st.text(alphabet=ALPHABET + ".=+/ ", max_size=120), keep_header=st.booleans())
def test_arbitrary_input_decodes_or_raises_convtrack_error(tail: str, keep_header: bool) -> None:
    header = write_header(SAMPLE).encode()[:-1] if keep_header else ""
    try:
        decode_tc_string(header + tail)
    except ConvtrackError as error:
        assert error.code == "invalid_tcf_string"
