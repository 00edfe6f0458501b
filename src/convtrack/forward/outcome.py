"""What a delivery attempt came to, and the retry policy as data.

Network errors, timeouts, 5xx and 429 are worth retrying (honouring ``Retry-After``); any other
4xx is dead: sending the same bytes again cannot succeed. Messages are excerpts of the platform's
own error text, at most :data:`MAX_MESSAGE` characters, with secrets removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Status = Literal["delivered", "retry", "dead"]
MAX_MESSAGE = 500

#: HTTP statuses retried on every platform; everything else >= 400 is dead.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_SECRET_PARAM = re.compile(
    r"((?:access_token|api_secret|appsecret_proof|token|key)=)[^&\s\"']+", re.IGNORECASE
)


@dataclass(frozen=True)
class Outcome:
    """The result of one request.

    ``rejected`` maps event ids the platform refused inside an otherwise successful response
    (per-event errors in a 2xx body) to the reason; the other events of the request count as
    delivered.
    """

    status: Status
    http_status: int | None = None
    retry_after: float | None = None
    message: str = ""
    rejected: Mapping[str, str] = field(default_factory=dict)
    latency: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


def excerpt(text: str, secrets: Iterable[str] = ()) -> str:
    """A message safe to log: secrets blanked, at most MAX_MESSAGE characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _SECRET_PARAM.sub(r"\1[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, wait)


def by_status(
    status: int, headers: Mapping[str, str], message: str, secrets: Iterable[str] = ()
) -> Outcome:
    """The default policy: 2xx delivered, retryable statuses retried, other errors dead."""
    text = excerpt(message, secrets)
    if 200 <= status < 300:
        return Outcome("delivered", status, message=text)
    if status in RETRY_STATUSES or status >= 500:
        return Outcome("retry", status, retry_after(headers), text)
    return Outcome("dead", status, message=text or f"HTTP {status}")


def network_error(error: BaseException, secrets: Iterable[str] = ()) -> Outcome:
    """No HTTP response at all (refused, reset, timed out): always worth retrying."""
    name = type(error).__name__
    return Outcome("retry", None, message=excerpt(f"{name}: {error}", secrets))
