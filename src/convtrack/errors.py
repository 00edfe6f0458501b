"""The one error type and the one error shape every HTTP error uses.

Every error a client can see is ``{"error": {"code", "message", "details"}}``:
``code`` is stable and machine-readable, ``message`` tells a human what to fix,
``details`` lists per-field problems (``index``, ``path`` as a JSON pointer, ``reason``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ConvtrackError(Exception):
    code: str
    message: str
    status: int = 400
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigError(ConvtrackError):
    """Bad settings: raised at start-up, before anything is served."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_config", message, status=500)


class StoreBusy(ConvtrackError):
    """The write queue is full: the client should retry after a short pause."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "overloaded",
            "The collector is at capacity; nothing from this request was stored. "
            f"Retry after {retry_after} s.",
            status=503,
            headers={"retry-after": str(retry_after)},
        )


class StoreUnavailable(ConvtrackError):
    """The commit failed: nothing from the request is stored; retrying is safe."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "store_unavailable",
            "The store could not commit this request; nothing was stored. "
            f"Retry after {retry_after} s (event_id makes retries safe).",
            status=503,
            headers={"retry-after": str(retry_after)},
        )
