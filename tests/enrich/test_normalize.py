import hashlib

import pytest

from convtrack.enrich.normalize import (
    FIELDS,
    PLATFORMS,
    hashed,
    is_hashed,
    normalize,
    wire_value,
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- test vectors quoted in the specs ------------------------------------------------------


def test_meta_email_vector() -> None:  # tracking-protocols §3.3
    assert normalize("email", "  Person@Example.COM ", "meta") == "person@example.com"
    assert hashed("email", "  Person@Example.COM ", "meta") == (
        "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"
    )


def test_meta_phone_vector() -> None:  # §3.3 gives only the first 16 hex digits
    assert normalize("phone", "+44 844 412 4653", "meta") == "448444124653"
    digest = hashed("phone", "+44 844 412 4653", "meta")
    assert digest is not None and digest.startswith("dc008fda46e2e640")


def test_data_manager_email_vector() -> None:  # more-conversion-apis §1.5
    assert normalize("email", " Jane.Doe@Example.com ", "google") == "jane.doe@example.com"
    assert hashed("email", " Jane.Doe@Example.com ", "google") == (
        "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
    )


def test_data_manager_phone_example() -> None:  # §1.5: (800)555-0100 → +18005550100
    assert normalize("phone", "(800)555-0100", "google", region="US") == "+18005550100"


@pytest.mark.parametrize("platform", ["google", "tiktok"])
def test_ecapi_vectors(platform: str) -> None:  # §2.2, quoted as prefix…suffix
    email = hashed("email", "user@example.com", platform)
    phone = hashed("phone", "+12125550000", platform)
    assert email is not None and email.startswith("b4c9a289") and email.endswith("5514")
    assert phone is not None and phone.startswith("7c8d08bf") and phone.endswith("125e")


def test_snapchat_phone_example() -> None:  # §3.3: no '+', no leading 00
    assert normalize("phone", "+44 844 412 4653", "snapchat") == "448444124653"
    assert normalize("phone", "0044 844 412 4653", "snapchat") == "448444124653"


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        ("city", "New York 10001", "newyork"),  # §3.3 SDK example
        ("zip", "94025-1234", "94025"),  # §3.3 SDK example
        ("first_name", "Mary-Jane", "maryjane"),  # param-builder
        ("last_name", "O'Brien", "obrien"),
        ("country", "US", "us"),
        ("state", " CA ", "ca"),
        ("gender", "Female", "f"),
        ("gender", "m", "m"),
        ("date_of_birth", "1990-01-05", "19900105"),
        ("date_of_birth", "19900105", "19900105"),
        ("external_id", " User 42 ", "user42"),
    ],
)
def test_meta_field_rules(field: str, raw: str, expected: str) -> None:
    assert normalize(field, raw, "meta") == expected
    assert hashed(field, raw, "meta") == sha(expected)


# --- where platforms differ ----------------------------------------------------------------


def test_phone_plus_per_platform() -> None:
    raw = "+1 415 555 2671"
    with_plus = {"google", "tiktok", "reddit", "microsoft"}
    digits_only = {"meta", "snapchat", "pinterest"}
    for platform in with_plus:
        assert normalize("phone", raw, platform) == "+14155552671"
        assert hashed("phone", raw, platform) == sha("+14155552671")
    for platform in digits_only:
        assert normalize("phone", raw, platform) == "14155552671"
    assert normalize("phone", raw, "linkedin") is None  # LinkedIn takes no phone


def test_gmail_dots_removed_for_google_only() -> None:
    raw = "Jane.Doe+ads@GoogleMail.com"
    assert normalize("email", raw, "google") == "janedoe+ads@googlemail.com"
    assert normalize("email", "jane.doe@gmail.com", "google") == "janedoe@gmail.com"
    assert normalize("email", "jane.doe@example.com", "google") == "jane.doe@example.com"
    for platform in set(PLATFORMS) - {"google"}:
        assert normalize("email", raw, platform) == "jane.doe+ads@googlemail.com"


def test_google_trims_inner_email_whitespace_others_reject() -> None:
    assert normalize("email", "jane doe@example.com", "google") == "janedoe@example.com"
    assert normalize("email", "jane doe@example.com", "meta") is None


def test_city_meta_squashes_google_keeps_words_unhashed() -> None:
    assert normalize("city", "New York 10001", "google") == "new york"
    assert wire_value("city", "New York 10001", "google") == "new york"
    assert wire_value("city", "New York 10001", "meta") == sha("newyork")


def test_names_google_drops_prefix_and_suffix() -> None:
    assert normalize("first_name", " Mrs. Mary-Jane ", "google") == "maryjane"
    assert normalize("last_name", "Doe Jr.", "google") == "doe"
    assert normalize("first_name", "Dr", "google") == "dr"  # a lone word is the name
    assert normalize("first_name", "Mrs. Mary-Jane", "meta") == "mrsmaryjane"
    assert normalize("first_name", " Mary-Jane ", "linkedin") == "Mary-Jane"  # plaintext


def test_zip_us_and_elsewhere() -> None:
    assert normalize("zip", "94025-1234", "meta", region="US") == "94025"
    assert normalize("zip", "940251234", "meta", region="us") == "94025"
    assert normalize("zip", "9402", "meta", region="US") is None
    assert normalize("zip", "SW1A 1AA", "meta", region="GB") == "sw1a1aa"
    assert normalize("zip", "94025-1234", "google", region="US") == "94025-1234"
    assert normalize("zip", "9402x", "google", region="US") is None
    assert normalize("zip", " SW1A  1AA ", "google", region="GB") == "sw1a 1aa"


def test_country_case_and_validation() -> None:
    assert normalize("country", "u.s.", "meta") == "us"
    assert normalize("country", "us", "google") == "US"
    assert normalize("country", "us", "linkedin") == "US"
    assert normalize("country", "United States", "meta") is None
    assert normalize("country", "XX", "google") is None


def test_external_id_per_platform() -> None:
    assert normalize("external_id", " ABC 1 ", "meta") == "abc1"
    assert normalize("external_id", " ABC 1 ", "tiktok") == "abc 1"
    assert normalize("external_id", " ABC 1 ", "linkedin") == "ABC 1"
    assert normalize("external_id", "ABC", "snapchat") is None


@pytest.mark.parametrize(
    ("platform", "hashed_fields"),
    [
        ("meta", set(FIELDS)),
        ("google", {"email", "phone", "first_name", "last_name"}),
        ("tiktok", {"email", "phone", "external_id"}),
        ("linkedin", {"email"}),
        ("snapchat", {"email", "phone"}),
        ("pinterest", set(FIELDS)),
        ("reddit", {"email", "phone", "external_id"}),
        ("microsoft", {"email", "phone"}),
    ],
)
def test_is_hashed(platform: str, hashed_fields: set[str]) -> None:
    assert {f for f in FIELDS if is_hashed(f, platform)} == hashed_fields


# --- phonenumbers edge cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0958", "GB", "+442079460958"),  # national number + region
        ("020 7946 0958", "gb", "+442079460958"),
        ("0044 20 7946 0958", None, "+442079460958"),  # 00 prefix
        ("0044 20 7946 0958", "US", "+442079460958"),  # 00 even where the IDD is 011
        ("+44 (20) 7946-0958", "US", "+442079460958"),  # '+' beats the region
        ("415-555-2671", "US", "+14155552671"),  # dashes
        ("1 415 555 2671", None, "+14155552671"),  # no region: digits carry the code
        ("+49 30 901820", None, "+4930901820"),
    ],
)
def test_phone_parsing(raw: str, region: str | None, expected: str) -> None:
    assert normalize("phone", raw, "google", region=region) == expected
    assert normalize("phone", raw, "meta", region=region) == expected[1:]


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("12345", "US"),  # too short
        ("415-555-2671", None),  # national number, no region: +415… is not valid
        ("not a phone", "US"),
        ("020 7946 0958", "XX"),  # unknown region
        ("+999 123 456", None),  # no such country code
        ("", "US"),
        ("   ", None),
    ],
)
def test_invalid_phone_is_none(raw: str, region: str | None) -> None:
    for platform in ("meta", "google", "snapchat"):
        assert normalize("phone", raw, platform, region=region) is None
        assert hashed("phone", raw, platform, region=region) is None


# --- invalid values, pass-through, errors --------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", "@example.com"),
        ("date_of_birth", "1990-02-30"),
        ("date_of_birth", "05/01/1990"),  # day/month order is ambiguous
        ("gender", "other"),
        ("city", "10001"),
    ],
)
def test_invalid_values_are_none(field: str, raw: str) -> None:
    for platform in PLATFORMS:
        assert normalize(field, raw, platform) is None
        assert hashed(field, raw, platform) is None


def test_values_empty_after_normalising_are_none() -> None:
    assert normalize("email", ".@gmail.com", "google") is None  # empty local part
    assert normalize("first_name", "...", "meta") is None
    assert normalize("first_name", "1.", "google") is None


def test_none_and_non_string_are_none() -> None:
    assert normalize("email", None, "meta") is None
    assert hashed("email", 42, "meta") is None  # type: ignore[arg-type]


def test_sha256_passes_through_for_hashed_fields() -> None:
    digest = sha("person@example.com")
    for platform in PLATFORMS:
        assert hashed("email", f" {digest.upper()} ", platform) == digest
    assert hashed("phone", digest, "meta") == digest
    assert hashed("external_id", digest, "tiktok") == digest
    assert normalize("country", digest, "google") is None  # plaintext field: not a code


def test_unknown_field_or_platform_raises() -> None:
    with pytest.raises(ValueError, match="platform"):
        normalize("email", "a@b.co", "myspace")
    with pytest.raises(ValueError, match="field"):
        hashed("street", "1 Main St", "google")


def test_every_platform_has_rules_and_never_raises_on_junk() -> None:
    junk = ["", " ", "\x00", "ÿ" * 300, "+", "00", "@", "-", "1" * 40]
    for platform in PLATFORMS:
        for field in FIELDS:
            for value in junk:
                result = wire_value(field, value, platform, region="US")
                assert result is None or isinstance(result, str)
