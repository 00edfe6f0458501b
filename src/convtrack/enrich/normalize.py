"""Per-platform normalisation and SHA-256 hashing of personal data.

Each ad platform normalises personal data a little differently before hashing, and a hash only
matches when the bytes match, so the rules live here per platform (specs/tracking-protocols.md
§3.3 Meta, §4b Google, §5 TikTok; specs/more-conversion-apis.md §1.5 Data Manager, §3 others):

- ``normalize(field, value, platform)`` gives the normalised plaintext, ``hashed(...)`` its
  SHA-256 hex digest, and ``wire_value(...)`` whichever of the two the platform expects
  (``is_hashed``). ``region`` (ISO alpha-2) is the default country for national phone numbers
  and selects the US ZIP rules.
- ``None`` means "nothing to send": an empty or invalid value, or a field the platform's spec
  does not take. Bad values never raise; an unknown field or platform name does (``ValueError``).
- For a field the platform hashes, a value that already is a SHA-256 hex digest passes through.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache, lru_cache, partial
from typing import NamedTuple

import phonenumbers

PLATFORMS = (
    "meta",
    "google",
    "tiktok",
    "linkedin",
    "snapchat",
    "pinterest",
    "reddit",
    "microsoft",
)
FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "state",
    "zip",
    "country",
    "date_of_birth",
    "gender",
    "external_id",
)

Normaliser = Callable[[str, str | None], str | None]  # (stripped value, REGION or None)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})")
_US_ZIP = re.compile(r"\d{5}(-\d{4})?")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_PUNCTUATION = frozenset(string.punctuation)
_NAME_PREFIXES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_GENDERS = {
    **dict.fromkeys(("m", "male", "man", "boy", "mr"), "m"),
    **dict.fromkeys(("f", "female", "woman", "girl", "mrs", "ms", "miss"), "f"),
}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- field rules -------------------------------------------------------------------------


def _email(text: str, region: str | None, *, google: bool = False) -> str | None:
    email = text.lower()
    if google:  # Data Manager: intermediate whitespace is trimmed too
        email = "".join(email.split())
    if not _EMAIL.fullmatch(email):
        return None
    local, domain = email.rsplit("@", 1)
    if google and domain in _GMAIL_DOMAINS:  # documented: dots only, not "+tag"
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def _phone(text: str, region: str | None, *, plus: bool) -> str | None:
    e164 = _e164(text, region)
    if e164 is None:
        return None
    return e164 if plus else e164.lstrip("+")


@lru_cache(maxsize=1024)  # one number is normalised for several platforms in a row
def _e164(text: str, region: str | None) -> str | None:
    if text.startswith("00"):  # international prefix, whatever the region's own IDD is
        text = "+" + text[2:]
    elif not text.startswith("+") and region is None:
        text = "+" + text  # no region: the digits must already carry the country code
    if _invalid_before_parsing(text):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not _may_be_valid(number) or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- early rejection of invalid phone numbers -----------------------------------------------
# Parsing (~15 µs) and rejecting (~25 µs for +1) an invalid number is ``phonenumbers``' slow
# case. A valid number is of some kind (fixed line, mobile, toll free…) in one of its calling
# code's regions: its national significant number fully matches that kind's pattern there. So
# a number that matches no kind's pattern of any region of its calling code is invalid, and
# one pattern alternating them all (``_CallingCode.kinds``) rejects it in a few µs. Whatever
# it does not reject goes through the library as before; the answers are the library's.

# The number kinds ``phonenumbers`` accepts as valid (its ``_number_type_helper``).
_NUMBER_KINDS = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)  # fmt: skip
# "+" and digits with spaces, dots, hyphens or brackets: no letters (vanity numbers), no
# extension marks, nothing ``phonenumbers.parse`` would read other than as those digits.
_PLAIN_INTERNATIONAL = re.compile(r"\+[0-9 ().-]*")
_SEPARATORS = str.maketrans("", "", "+ ().-")


class _CallingCode(NamedTuple):
    kinds: re.Pattern[str] | None  # every kind's pattern of every region; None: none at all
    national_prefix: re.Pattern[str] | None  # what parse may strip from the national number


@cache  # bounded: one entry per calling code that was seen
def _calling_code(country_code: int) -> _CallingCode:
    phonenumbers.enable_pattern_cache()  # the library's own cache of its compiled patterns
    patterns: dict[str, None] = {}  # each once (regions of one code share many), in order
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, region.upper()
        )
        for kind in _NUMBER_KINDS if metadata is not None else ():
            desc = getattr(metadata, kind)
            if desc is not None and desc.national_number_pattern:
                patterns[f"(?:{desc.national_number_pattern})"] = None
    main = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code)
    )
    prefix = main.national_prefix_for_parsing if main is not None else None
    return _CallingCode(
        kinds=re.compile("|".join(patterns)) if patterns else None,
        national_prefix=re.compile(prefix) if prefix else None,
    )


def _may_be_valid(number: phonenumbers.PhoneNumber) -> bool:
    """False only if ``phonenumbers.is_valid_number(number)`` is False (see above)."""
    kinds = _calling_code(number.country_code or 0).kinds
    return (
        kinds is not None
        and kinds.fullmatch(phonenumbers.national_significant_number(number)) is not None
    )


def _invalid_before_parsing(text: str) -> bool:
    """True only if ``phonenumbers`` would not parse ``text`` or find it invalid.

    For a plain international number (``+1 (555) 010-9999``) parsing is known: the digits
    after ``+`` start with the calling code (the first 1–3 digits that are one), the rest is
    the national number, unless the region's national prefix (``1`` for +1) starts it and
    might be stripped. Such a national number that matches no kind is rejected here.
    """
    if not _PLAIN_INTERNATIONAL.fullmatch(text):
        return False
    digits = text.translate(_SEPARATORS)
    if not digits or digits[0] == "0":
        return False
    for size in range(1, min(len(digits), 3) + 1):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return False
    code, national = _calling_code(int(digits[:size])), digits[size:]
    if code.national_prefix is not None and code.national_prefix.match(national):
        return False
    return code.kinds is None or code.kinds.fullmatch(national) is None


def _letters(text: str, region: str | None) -> str | None:
    """Meta city/state: lower case, letters only (``New York 10001`` → ``newyork``)."""
    return "".join(ch for ch in text.lower() if ch.isalpha())


def _meta_name(text: str, region: str | None) -> str | None:
    """Meta names: lower case without whitespace or ASCII punctuation (``O'Brien`` → ``obrien``)."""
    return "".join(ch for ch in text.lower() if not ch.isspace() and ch not in _PUNCTUATION)


def _words(text: str) -> list[str]:
    """Google: lower case, digits and symbols removed, whitespace collapsed."""
    return "".join(ch for ch in text.lower() if ch.isalpha() or ch.isspace()).split()


def _google_place(text: str, region: str | None) -> str | None:
    return " ".join(_words(text))


def _google_name(text: str, region: str | None, *, drop: frozenset[str], at: int) -> str | None:
    words = _words(text)
    if len(words) > 1 and words[at] in drop:  # "Mrs. Jane" → "jane", "Doe Jr." → "doe"
        del words[at]
    return " ".join(words)


def _meta_zip(text: str, region: str | None) -> str | None:
    code = "".join(text.lower().split()).split("-", 1)[0]
    if region == "US":
        return code[:5] if len(code) >= 5 and code[:5].isdigit() else None
    return code if len(code) >= 2 else None


def _google_zip(text: str, region: str | None) -> str | None:
    code = " ".join(text.lower().split())
    if region == "US":
        return code if _US_ZIP.fullmatch(code) else None
    return code


def _country(text: str, region: str | None, *, upper: bool) -> str | None:
    code = "".join(ch for ch in text.upper() if "A" <= ch <= "Z")
    if code not in phonenumbers.SUPPORTED_REGIONS:
        return None
    return code if upper else code.lower()


def _date_of_birth(text: str, region: str | None) -> str | None:
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day).strftime("%Y%m%d")
    except ValueError:
        return None


def _gender(text: str, region: str | None) -> str | None:
    return _GENDERS.get("".join(ch for ch in text.lower() if ch.isalpha()))


def _lower(text: str, region: str | None) -> str | None:
    return text.lower()


def _no_whitespace_lower(text: str, region: str | None) -> str | None:
    return "".join(text.lower().split())


def _as_is(text: str, region: str | None) -> str | None:
    return text


# --- platform tables ---------------------------------------------------------------------

_E164_PLUS: Normaliser = partial(_phone, plus=True)
_E164_DIGITS: Normaliser = partial(_phone, plus=False)

_META: Mapping[str, Normaliser] = {
    "email": _email,
    "phone": _E164_DIGITS,
    "first_name": _meta_name,
    "last_name": _meta_name,
    "city": _letters,
    "state": _letters,
    "zip": _meta_zip,
    "country": partial(_country, upper=False),
    "date_of_birth": _date_of_birth,
    "gender": _gender,
    "external_id": _no_whitespace_lower,
}

_RULES: Mapping[str, Mapping[str, Normaliser]] = {
    "meta": _META,
    "google": {
        "email": partial(_email, google=True),
        "phone": _E164_PLUS,
        "first_name": partial(_google_name, drop=_NAME_PREFIXES, at=0),
        "last_name": partial(_google_name, drop=_NAME_SUFFIXES, at=-1),
        "city": _google_place,
        "state": _google_place,
        "zip": _google_zip,
        "country": partial(_country, upper=True),
    },
    "tiktok": {"email": _email, "phone": _E164_PLUS, "external_id": _lower},
    "linkedin": {  # only the email is hashed; userInfo is plaintext
        "email": _email,
        "first_name": _as_is,
        "last_name": _as_is,
        "country": partial(_country, upper=True),
        "external_id": _as_is,
    },
    "snapchat": {"email": _email, "phone": _E164_DIGITS},
    "pinterest": _META,  # same keys as Meta; the spec gives no rule that differs
    "reddit": {"email": _email, "phone": _E164_PLUS, "external_id": _lower},
    "microsoft": {"email": _email, "phone": _E164_PLUS},
}

_HASHED: Mapping[str, frozenset[str]] = {
    "meta": frozenset(FIELDS),
    "google": frozenset({"email", "phone", "first_name", "last_name"}),
    "tiktok": frozenset({"email", "phone", "external_id"}),
    "linkedin": frozenset({"email"}),
    "snapchat": frozenset({"email", "phone"}),
    "pinterest": frozenset(FIELDS),
    "reddit": frozenset({"email", "phone", "external_id"}),
    "microsoft": frozenset({"email", "phone"}),
}


# --- public API --------------------------------------------------------------------------


def _check(field: str, platform: str) -> None:
    if platform not in _RULES:
        raise ValueError(f"unknown platform {platform!r}; expected one of {PLATFORMS}")
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}; expected one of {FIELDS}")


def is_hashed(field: str, platform: str) -> bool:
    """Whether ``platform`` expects ``field`` as a SHA-256 hash (else as plaintext)."""
    _check(field, platform)
    return field in _HASHED[platform]


def normalize(
    field: str, value: str | None, platform: str, *, region: str | None = None
) -> str | None:
    """The value as ``platform`` wants it before hashing, or ``None`` if there is none."""
    _check(field, platform)
    rule = _RULES[platform].get(field)
    if rule is None or not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if field in _HASHED[platform] and _SHA256.fullmatch(text.lower()):
        return text.lower()
    return rule(text, region.strip().upper() if region else None) or None


def hashed(
    field: str, value: str | None, platform: str, *, region: str | None = None
) -> str | None:
    """SHA-256 hex of the normalised value; an existing SHA-256 hex digest is kept."""
    text = normalize(field, value, platform, region=region)
    if text is None or _SHA256.fullmatch(text):
        return text
    return sha256_hex(text)


def wire_value(
    field: str, value: str | None, platform: str, *, region: str | None = None
) -> str | None:
    """What to send: the hash if ``platform`` hashes ``field``, else the normalised plaintext."""
    if is_hashed(field, platform):
        return hashed(field, value, platform, region=region)
    return normalize(field, value, platform, region=region)


def _rule_sharing(field: str) -> list[tuple[str, Normaliser | None, str]]:
    """``(platform, rule, first platform with the same rule)`` per platform hashing ``field``."""
    first: dict[int, str] = {}
    return [
        (platform, rule, first.setdefault(id(rule), platform))
        for platform in PLATFORMS
        if field in _HASHED[platform]
        for rule in [_RULES[platform].get(field)]
    ]


_SHARING: Mapping[str, list[tuple[str, Normaliser | None, str]]] = {
    field: _rule_sharing(field) for field in FIELDS
}


def hashed_by_platform(
    field: str,
    value: str | None,
    *,
    region: str | None = None,
    digests: dict[str, str] | None = None,
) -> dict[str, str | None]:
    """``hashed`` for every platform that hashes ``field``, each distinct rule run once.

    The same as ``{p: hashed(field, value, p, region=region) for p ...}``, with the checks
    shared: the value is stripped and tested for a digest once, and a normalised text several
    rules agree on is hashed once. ``digests`` (text → SHA-256 hex) is that memo; pass one to
    share it with the caller.
    """
    sharing = _SHARING.get(field, ())
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return {platform: None for platform, _, _ in sharing}
    lower = text.lower()
    if _SHA256.fullmatch(lower):  # already a digest: kept by every platform with a rule
        return {platform: lower if rule else None for platform, rule, _ in sharing}
    upper_region = region.strip().upper() if region else None
    memo: dict[str, str] = {} if digests is None else digests
    out: dict[str, str | None] = {}
    for platform, rule, same_rule in sharing:
        if platform != same_rule:
            out[platform] = out[same_rule]
            continue
        normalised = rule(text, upper_region) if rule is not None else None
        if not normalised or _SHA256.fullmatch(normalised):
            out[platform] = normalised or None
            continue
        digest = memo.get(normalised)
        if digest is None:
            digest = memo[normalised] = sha256_hex(normalised)
        out[platform] = digest
    return out
