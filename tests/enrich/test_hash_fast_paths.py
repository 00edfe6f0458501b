"""The fast paths of PII hashing give exactly the answers of the plain ones.

- ``normalize._invalid_before_parsing`` and ``normalize._may_be_valid``: reject a phone number
  before ``phonenumbers.parse`` / ``is_valid_number`` only when the library would reject it;
- ``normalize.hashed_by_platform``: the same as ``hashed`` per platform;
- ``pii.IdentifierHasher``: a bounded cache in front of ``hash_identifiers``, same events out.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import msgspec
import phonenumbers
import pytest

from convtrack.enrich.normalize import (
    FIELDS,
    PLATFORMS,
    _e164,
    _invalid_before_parsing,
    _may_be_valid,
    hashed,
    hashed_by_platform,
    is_hashed,
)
from convtrack.enrich.pii import (
    IdentifierHasher,
    hash_identifiers,
    hash_normalised,
    normalise_email,
    normalise_external_id,
    normalise_phone,
    pii_hashes,
)
from convtrack.events import Event, HashedIds, Identifiers

NOW = datetime(2024, 5, 1, tzinfo=UTC)
DIGEST = hashlib.sha256(b"x").hexdigest()
REGIONS = [None, "US", "gb", " DE ", "IT", "FR", "CA", "RE", "AU", "XX", ""]


def phones(rng: random.Random) -> list[str]:
    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    return [
        f"+1 (555) {digits(3)}-{digits(4)}",
        f"+1 212 {rng.randrange(200, 999)} {digits(4)}",
        f"(212) {rng.randrange(200, 999)}-{digits(4)}",
        f"020 7946 0{digits(3)}",
        f"07700 900{digits(3)}",
        f"+44 844 412 {digits(4)}",
        f"0044 844 412 {digits(4)}",
        f"+49 30 {digits(7)}",
        f"+39 06 {digits(8)}",
        f"+800 {digits(8)}",
        f"+262 262 {digits(6)}",
        f"+33 6 {digits(8)}",
        f"+61 4{digits(8)}",
        f"+{digits(rng.randrange(4, 15))}",
        digits(rng.randrange(4, 13)),
        "1-800-FLOWERS",
        f"+1 212 555 {digits(4)} ext. 12",
        "abc",
        "+",
        DIGEST,
        f" {DIGEST.upper()} ",
        "   ",
    ]


def values(field: str, rng: random.Random) -> list[str]:
    if field == "phone":
        return phones(rng)
    user = rng.choice(["John.Doe", "j.o.h.n", "Ann+tag", "Müller", "x"])
    common = [DIGEST, DIGEST.upper(), f"  {DIGEST} ", "  ", "", "12", "Ünal"]
    return common + {
        "email": [f"  {user}@Example.COM ", f"{user}@gmail.com", f"{user}@GoogleMail.com",
                  f"{user} @ex ample.com", "not-an-email", "a@b", "@x.com"],
        "first_name": ["Mrs. Jane", " O'Brien ", "Jean-Luc", "Dr"],
        "last_name": ["Doe Jr.", "van der Berg", "SMITH", "ii"],
        "city": ["New York 10001", "São Paulo", "St. Louis"],
        "state": ["CA", "New South Wales", "ny"],
        "zip": ["10001-1234", "SW1A 1AA", "1234", "9", "94105", " 941 05 "],
        "country": ["us", "United Kingdom", "DE", "XX", "u.s."],
        "date_of_birth": ["1990-01-31", "19900131", "1990/02/30", "31.01.1990"],
        "gender": ["Male", "f", "woman", "x", "Mr"],
        "external_id": [" CRM-42 ", "ID 42", "x"],
    }[field]  # fmt: skip


def random_identifiers(rng: random.Random) -> Identifiers:
    chosen = {field: rng.choice(values(field, rng)) for field in FIELDS if rng.random() < 0.6}
    return Identifiers(**chosen)


# --- phone numbers: the early rejection ----------------------------------------------------


def test_a_number_rejected_early_is_one_the_library_rejects() -> None:
    rng = random.Random(1)
    rejected = 0
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        numbers = []
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]:
            for kind in phonenumbers.PhoneNumberType.values():
                example = phonenumbers.example_number_for_type(region, kind)
                if example is not None:
                    numbers.append(example)
                    assert _may_be_valid(example) or not phonenumbers.is_valid_number(example)
        for _ in range(12):  # the examples with digits changed, and random numbers
            base = str(rng.choice(numbers).national_number) if numbers else "1234567"
            digits = list(base + "".join(rng.choice("0123456789") for _ in range(rng.randrange(3))))
            digits[rng.randrange(len(digits))] = rng.choice("0123456789")
            numbers.append(phonenumbers.parse(f"+{country_code}{''.join(digits)}", None))
        for number in numbers:
            if not _may_be_valid(number):
                rejected += 1
                assert not phonenumbers.is_valid_number(number), number
    assert rejected > 500  # the shortcut does take effect


def test_valid_example_numbers_of_every_region_pass() -> None:
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and phonenumbers.is_valid_number(example):
                assert _may_be_valid(example), (region, kind)


def library_e164(text: str) -> str | None:
    """What ``phonenumbers`` alone makes of an international number."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def spelled(rng: random.Random, digits: str) -> str:
    """``+digits`` with the separators people type."""
    out = "+"
    for i, digit in enumerate(digits):
        if i and rng.random() < 0.3:
            out += rng.choice([" ", "-", ".", " (", ") ", "  "])
        out += digit
    return out + rng.choice(["", "", " ", ")", "-"])


def test_a_number_rejected_before_parsing_is_one_the_library_rejects() -> None:
    rng = random.Random(2)
    rejected = checked = 0
    for country_code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        examples = [
            str(example.national_number)
            for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
            for kind in phonenumbers.PhoneNumberType.values()
            if (example := phonenumbers.example_number_for_type(region, kind)) is not None
        ] or ["1234567"]
        for _ in range(40):
            national = list(rng.choice(examples))
            for _ in range(rng.randrange(3)):  # change, add or drop a digit
                at = rng.randrange(len(national))
                national[at : at + rng.randrange(2)] = rng.choice(["", "0", "1", "5", "55"])
            if rng.random() < 0.2:  # a national prefix in front, as people write +44 (0)20
                national.insert(0, rng.choice("01"))
            text = spelled(rng, f"{country_code}{''.join(national)}")
            checked += 1
            if _invalid_before_parsing(text):
                rejected += 1
                assert library_e164(text) is None, text
            assert _e164(text, None) == library_e164(text), text
    assert checked > 8000 and rejected > 3000  # the shortcut does take effect


@pytest.mark.parametrize(
    "text",
    ["+1 (555) 010-9999", "+1 212 555 0100", "+44 (0) 20 7946 0018", "+1 800 FLOWERS",
     "+1 212 555 0100 ext. 12", "+1 212 555 0100#", "+0 12 345", "+", "+999 123 456",
     "+800 1234 5678", "+39 06 1234 5678", "+7 495 123 4567", "+1 1 212 555 0100"],
)  # fmt: skip
def test_early_rejection_agrees_with_the_library_on_odd_spellings(text: str) -> None:
    assert not _invalid_before_parsing(text) or library_e164(text) is None
    assert _e164(text, None) == library_e164(text)


# --- hashed_by_platform ----------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
def test_hashed_by_platform_is_hashed_for_each_platform(field: str) -> None:
    rng = random.Random(field)
    for _ in range(20):
        for value in values(field, rng):
            for region in REGIONS:
                expected = {
                    p: hashed(field, value, p, region=region)
                    for p in PLATFORMS
                    if is_hashed(field, p)
                }
                assert hashed_by_platform(field, value, region=region) == expected, (value, region)
    assert hashed_by_platform(field, None) == dict.fromkeys(
        (p for p in PLATFORMS if is_hashed(field, p)), None
    )


# --- the identifier hasher and its cache ---------------------------------------------------


def event(ids: Identifiers | None) -> Event:
    return Event(
        event_id="e", event_name="x", type="track", source="server", occurred_at=NOW,
        received_at=NOW, identifiers=ids,
    )  # fmt: skip


def reference(ids: Identifiers, region: str | None) -> tuple[HashedIds, dict[str, object]]:
    """``hash_identifiers`` as it was written before the fast paths."""
    return (
        HashedIds(
            email_sha256=hash_normalised(normalise_email(ids.email)) if ids.email else None,
            phone_sha256=hash_normalised(normalise_phone(ids.phone, region)) if ids.phone else None,
            external_id_sha256=hash_normalised(normalise_external_id(ids.external_id))
            if ids.external_id
            else None,
        ),
        pii_hashes(ids, region),
    )


@pytest.mark.parametrize("max_values", [1, 7, 4096])
def test_the_hasher_gives_what_hash_identifiers_gives(max_values: int) -> None:
    rng = random.Random(max_values)
    people = [random_identifiers(rng) for _ in range(60)]  # repeated: cache hits
    hasher = IdentifierHasher(max_values=max_values)
    for _ in range(1500):
        ids = rng.choice(people) if rng.random() < 0.7 else random_identifiers(rng)
        region = rng.choice(REGIONS)
        keep_raw = rng.random() < 0.2
        cached = hasher(event(ids), keep_raw=keep_raw, region=region)
        plain = hash_identifiers(event(ids), keep_raw=keep_raw, region=region)
        assert msgspec.json.encode(cached) == msgspec.json.encode(plain)
        assert (cached.hashed, cached.pii) == reference(ids, region)
        assert cached.identifiers == (ids if keep_raw else None)
    info = hasher.field_hashes.cache_info()
    assert info.currsize <= max_values
    if max_values == 4096:
        assert info.hits > 1000


def test_the_cache_is_bounded_and_least_recently_used() -> None:
    hasher = IdentifierHasher(max_values=16)
    for i in range(1000):
        hasher(event(Identifiers(email=f"person{i}@example.com")))
    assert hasher.field_hashes.cache_info().currsize == 16
    hits = hasher.field_hashes.cache_info().hits
    hasher(event(Identifiers(email="person999@example.com")))  # recent: remembered
    assert hasher.field_hashes.cache_info().hits == hits + 1
    hasher(event(Identifiers(email="person0@example.com")))  # long evicted: computed again
    assert hasher.field_hashes.cache_info().hits == hits + 1


def test_events_do_not_share_the_cached_hashes() -> None:
    hasher = IdentifierHasher()
    ids = Identifiers(email="a@example.com", phone="+44 844 412 4653")
    first = hasher(event(ids))
    first.pii["email"]["*"] = "changed"
    del first.pii["phone"]
    second = hasher(event(ids))
    assert second.pii == hash_identifiers(event(ids)).pii
    assert second.pii["email"]["*"] == hashlib.sha256(b"a@example.com").hexdigest()


def test_an_event_without_identifiers_is_left_alone() -> None:
    e = event(None)
    assert IdentifierHasher()(e) is e and e.hashed == HashedIds() and e.pii == {}
