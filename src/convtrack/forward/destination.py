"""The one destination interface and its registry.

A destination is stateless: configuration comes in as a :class:`DestinationConfig` read from
``CONVTRACK_<NAME>_*`` environment variables, events come in as :class:`ForwardEvent` values,
and out go :class:`HttpRequest` values for the transport to send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, TypeVar

from convtrack.errors import ConfigError
from convtrack.forward.model import ForwardEvent
from convtrack.forward.outcome import Outcome, by_status

Kind = Literal["ads", "analytics", "first_party"]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    event_ids: tuple[str, ...]
    #: values the transport must never echo in a message (tokens in the URL or headers)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class DestinationConfig:
    """Settings of one destination; ``values`` keys are the env names without the prefix."""

    name: str
    base_url: str
    values: Mapping[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def needed(self, key: str, why: str) -> str:
        """The setting ``key``, or a ConfigError naming its variable and ``why`` it is needed."""
        value = self.values.get(key)
        if not value:
            raise ConfigError(f"set CONVTRACK_{self.name.upper()}_{key} {why}")
        return value

    def flag(self, key: str) -> bool:
        return (self.values.get(key) or "").strip().lower() in {"1", "true", "yes", "on"}

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self.values[k] for k in sorted(self.secret_keys) if self.values.get(k))

    def __repr__(self) -> str:
        shown = {k: ("[redacted]" if k in self.secret_keys else v) for k, v in self.values.items()}
        return f"DestinationConfig(name={self.name!r}, base_url={self.base_url!r}, {shown!r})"


PROBE_ID = "convtrack-test"


def probe(event_name: str, hashed: tuple[str, bytes] | None = None, **fields: Any) -> ForwardEvent:
    """The made-up event of a destination test (``convtrack destinations test``): the fixed id
    ``PROBE_ID``, now, and ``hashed`` = (user data field, value) given as its SHA-256."""
    if hashed is not None:
        fields["user_data"] = {hashed[0]: hashlib.sha256(hashed[1]).hexdigest()}
    return ForwardEvent(
        event_id=PROBE_ID, event_name=event_name, occurred_at=datetime.now(UTC), **fields
    )


class UnsendableEvents(ValueError):
    """Events the platform cannot take as they are; ``reasons`` maps event id to why."""

    def __init__(self, reasons: Mapping[str, str]) -> None:
        self.reasons = dict(reasons)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.reasons.items()))


class Destination:
    """Base class: subclasses set the class attributes and implement ``build_batch``."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    max_batch: ClassVar[int]
    max_age: ClassVar[timedelta | None] = None
    default_base_url: ClassVar[str]
    required_env: ClassVar[tuple[str, ...]] = ()
    optional_env: ClassVar[tuple[str, ...]] = ()
    secret_env: ClassVar[frozenset[str]] = frozenset()
    supports_adjustments: ClassVar[bool] = False
    #: which adjustment types the platform takes (a subset of refund/cancel/restatement)
    adjustment_types: ClassVar[frozenset[str]] = frozenset()
    #: human text: what the platform can and cannot retract
    adjustments_doc: ClassVar[str] = "Cannot retract or restate conversions."
    #: consent signals that must not be 'denied' for an event to be sent
    consent_required: ClassVar[tuple[str, ...]] = ()
    #: an adjustment is sent only with its stored original conversion (the platform cannot
    #: match it without): until the original is stored the job waits as a retry, and becomes
    #: a dead letter after ``forward_max_attempts`` (forward/original.py)
    needs_original: ClassVar[bool] = False

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def env_prefix(cls) -> str:
        return f"CONVTRACK_{cls.name.upper()}_"

    def config_from_env(self, env: Mapping[str, str]) -> DestinationConfig:
        prefix = self.env_prefix()
        values = {k[len(prefix) :]: v for k, v in env.items() if k.startswith(prefix) and v}
        missing = [prefix + key for key in self.required_env if not values.get(key)]
        if missing:
            raise ConfigError(f"destination {self.name} needs {', '.join(missing)}")
        base_url = values.pop("BASE_URL", self.default_base_url).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{prefix}BASE_URL must be an http(s) URL, got {base_url!r}")
        return DestinationConfig(self.name, base_url, values, self.secret_env)

    # -- building ----------------------------------------------------------------------------
    def check(
        self, event: ForwardEvent, config: DestinationConfig, now: datetime | None = None
    ) -> str | None:
        """Why this event cannot be sent to this platform, or None when it can."""
        if event.kind == "adjustment" and event.adjustment_type not in self.adjustment_types:
            return f"{self.name} cannot take a {event.adjustment_type} adjustment"
        original = event.original
        if original is not None and not original.consented and self.consent_required:
            return f"the consent of the original conversion {original.event_id} denies {self.name}"
        for signal in self.consent_required:
            if event.consent_of(signal) == "denied":
                return f"consent {signal} is denied"
        if self.max_age is not None:
            age = (now or datetime.now(UTC)) - event.occurred_at
            if age > self.max_age:
                return f"older than the {self.name} limit of {self.max_age.days} days"
        return self.check_fields(event, config)

    def check_fields(self, event: ForwardEvent, config: DestinationConfig) -> str | None:
        """Platform-specific field requirements; override in subclasses."""
        return None

    def partition(
        self, events: Iterable[ForwardEvent], config: DestinationConfig, now: datetime | None = None
    ) -> tuple[list[ForwardEvent], dict[str, str]]:
        """Split events into those that can be sent and the reasons for the others."""
        good: list[ForwardEvent] = []
        bad: dict[str, str] = {}
        for event in events:
            reason = self.check(event, config, now)
            if reason is None:
                good.append(event)
            else:
                bad[event.event_id] = reason
        return good, bad

    def build(
        self,
        events: Sequence[ForwardEvent],
        config: DestinationConfig,
        now: datetime | None = None,
    ) -> list[HttpRequest]:
        """Requests carrying ``events``, none with more than ``max_batch`` of them.

        Raises :class:`UnsendableEvents` if any event fails :meth:`check`: call
        :meth:`partition` first to dead-letter those and send the rest.
        """
        good, bad = self.partition(events, config, now)
        if bad:
            raise UnsendableEvents(bad)
        return self.batches(good, config)

    def batches(
        self, sendable: Sequence[ForwardEvent], config: DestinationConfig
    ) -> list[HttpRequest]:
        """Requests for events :meth:`partition` already found sendable (not checked again)."""
        return list(self.iter_batches(sendable, config))

    def iter_batches(
        self, sendable: Sequence[ForwardEvent], config: DestinationConfig
    ) -> Iterator[HttpRequest]:
        """:meth:`batches` one request at a time (the worker sends each as it is built)."""
        size = self.batch_size(config)
        for group in self.group(list(sendable)):
            for i in range(0, len(group), size):
                yield self.build_batch(group[i : i + size], config)

    def batch_size(self, config: DestinationConfig) -> int:
        """Events per request: ``max_batch`` unless the config may lower it."""
        return self.max_batch

    def group(self, events: list[ForwardEvent]) -> list[list[ForwardEvent]]:
        """Events that may share one request; one group unless the wire format says otherwise."""
        return [events] if events else []

    def build_batch(self, events: Sequence[ForwardEvent], config: DestinationConfig) -> HttpRequest:
        raise NotImplementedError

    def test_request(self, config: DestinationConfig) -> HttpRequest:
        """A request the platform validates without recording a conversion (``probe``)."""
        raise ConfigError(f"destination {self.name} has no test mode")

    # -- responses ---------------------------------------------------------------------------
    def classify(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request: HttpRequest | None = None,
    ) -> Outcome:
        secrets = request.secrets if request else ()
        return by_status(status, headers, self.error_message(status, body), secrets)

    def error_message(self, status: int, body: bytes) -> str:
        """The platform's own error text from a response body (default: the raw body)."""
        return body.decode("utf-8", "replace") if status >= 300 else ""


D = TypeVar("D", bound=type[Destination])


@dataclass
class Registry:
    classes: dict[str, type[Destination]] = field(default_factory=dict)

    def register(self, cls: D) -> D:
        name = getattr(cls, "name", None)
        if not name or not name.isidentifier():
            raise TypeError(f"{cls.__qualname__}.name must be an identifier, got {name!r}")
        if self.classes.get(name, cls) is not cls:
            raise ValueError(f"destination {name!r} is already registered")
        self.classes[name] = cls
        return cls


_REGISTRY = Registry()


def register(cls: D) -> D:
    """Class decorator that makes a destination available by its ``name``."""
    return _REGISTRY.register(cls)


def registry() -> dict[str, type[Destination]]:
    """Every registered destination class by name (built-ins included)."""
    from convtrack.forward import destinations  # noqa: F401  (registers the built-ins)

    return dict(sorted(_REGISTRY.classes.items()))


def get(name: str) -> Destination:
    classes = registry()
    if name not in classes:
        raise ConfigError(f"unknown destination {name!r}; known: {', '.join(classes)}")
    factory: Callable[[], Destination] = classes[name]
    return factory()
