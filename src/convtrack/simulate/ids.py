"""Deterministic identifiers drawn from the simulation's random generator.

Everything here takes the ``random.Random`` it draws from, so one seed gives the same ids,
click ids, devices and people every run. Personal data uses reserved names only
(``example.com`` addresses, 555-01xx phone numbers, TEST-NET IP addresses).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_HEX = "0123456789abcdef"
_FIRST = ("ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances")
_LAST = ("lovelace", "turing", "hopper", "torvalds", "hamilton", "thompson", "liskov", "ritchie")
_TEST_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")

DESKTOP_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
MOBILE_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
)


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID whose random bits come from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def token(rng: random.Random, length: int, alphabet: str = _B64URL) -> str:
    return "".join(rng.choices(alphabet, k=length))


def click_id(rng: random.Random, param: str) -> str:
    """A click id shaped like the platform's own (specs/tracking-protocols.md §6)."""
    if param == "gclid":
        return "Cj0KCQjw" + token(rng, 80)
    if param == "fbclid":
        return "IwAR" + token(rng, 56)
    if param == "ttclid":
        return "E.C.P." + token(rng, 40)
    if param == "msclkid":
        return token(rng, 32, _HEX)
    return token(rng, 32)


def user_agent(rng: random.Random, mobile: bool) -> str:
    return rng.choice(MOBILE_UAS if mobile else DESKTOP_UAS)


def ip_address(rng: random.Random) -> str:
    return rng.choice(_TEST_NETS) + str(rng.randint(1, 254))


def email(rng: random.Random, number: int) -> str:
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{number}@example.com"


def phone(rng: random.Random) -> str:
    return f"+1 202-555-01{rng.randint(0, 99):02d}"


def order_id(rng: random.Random) -> str:
    return "ORD-" + token(rng, 10, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")


def after(at: datetime, rng: random.Random, low_s: float, high_s: float) -> datetime:
    """A time ``low_s``..``high_s`` seconds after ``at``, to the millisecond."""
    return at + timedelta(milliseconds=round(rng.uniform(low_s, high_s) * 1000))
