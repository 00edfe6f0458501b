"""One typed settings object, read once at start-up.

Sources, later wins: defaults < config file (TOML) < ``CONVTRACK_*`` environment < CLI flags.
Every value is cast to its declared type and validated; a bad value stops start-up with a
message naming the setting and its source. See docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from convtrack.currencies import ISO_4217
from convtrack.errors import ConfigError

ENV_PREFIX = "CONVTRACK_"
DEFAULT_CONFIG_FILE = "convtrack.toml"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path("convtrack-data")
    # Store URL; empty means duckdb:///<data_dir>/convtrack.duckdb
    store: str = ""
    # Ingest limits
    max_body_bytes: int = 1_048_576
    max_batch_events: int = 1000
    # Group commit: flush when this many events wait, or after this many milliseconds.
    commit_max_events: int = 10_000
    commit_interval_ms: float = 2.0
    # Bound on events accepted but not yet committed; beyond it requests get 503.
    queue_max_events: int = 200_000
    # Bound on concurrent requests the HTTP server works on.
    max_concurrency: int = 2048
    # Tracking plan file (YAML); empty means the default plan shipped with convtrack.
    plan: str = ""
    default_currency: str = "USD"
    store_raw_pii: bool = False
    # Take the client IP from X-Forwarded-For (only behind a trusted proxy).
    trust_forwarded_for: bool = False
    # A client timestamp further than this in the future is rejected.
    max_future_seconds: int = 86_400
    log_level: str = "info"
    # First-party anonymous-id cookie set by /v1/events and pixel responses (docs/tag.md);
    # an empty name turns it off. Browsers cap cookie lifetimes at 400 days.
    anon_cookie: str = "ct_aid"
    anon_cookie_days: int = 395
    # Domain attribute of that cookie (e.g. example.com to share it across subdomains).
    cookie_domain: str = ""
    # A request with ``Sec-GPC: 1`` marks its events consent.gpc = true unless they say.
    honor_gpc: bool = True

    @property
    def store_url(self) -> str:
        if self.store:
            return self.store
        return "duckdb://" + (self.data_dir / "convtrack.duckdb").resolve().as_posix()

    def validate(self) -> Settings:
        checks = [
            (1 <= self.port <= 65535, "port must be between 1 and 65535"),
            (self.max_body_bytes >= 1024, "max_body_bytes must be at least 1024"),
            (1 <= self.max_batch_events <= 100_000, "max_batch_events must be 1..100000"),
            (self.commit_max_events >= 1, "commit_max_events must be at least 1"),
            (0 <= self.commit_interval_ms <= 1000, "commit_interval_ms must be 0..1000"),
            (self.queue_max_events >= self.max_batch_events, "queue_max_events too small"),
            (self.default_currency in ISO_4217, "default_currency must be an ISO 4217 code"),
            (self.max_future_seconds >= 0, "max_future_seconds must be at least 0"),
            (self.log_level in {"debug", "info", "warning", "error"}, "bad log_level"),
            (1 <= self.anon_cookie_days <= 400, "anon_cookie_days must be 1..400"),
            (_token(self.anon_cookie), "anon_cookie must be letters, digits, _ or -"),
            (_token(self.cookie_domain.replace(".", "")), "cookie_domain must be a domain"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if "://" not in self.store_url:
            raise ConfigError(f"store must be a URL like duckdb:///path.duckdb, got {self.store!r}")
        return self

    def as_env(self) -> dict[str, str]:
        """The settings as CONVTRACK_* variables (to hand them to a worker process)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[ENV_PREFIX + f.name.upper()] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        return out


def _token(text: str) -> bool:
    """Empty, or ASCII letters, digits, ``_`` and ``-`` only (safe in a Set-Cookie header)."""
    return not text or (text.isascii() and text.replace("_", "").replace("-", "").isalnum())


def _cast(name: str, raw: Any, target: Any, origin: str) -> Any:
    try:
        if target in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        if target in (int, "int"):
            if isinstance(raw, bool | float):  # int(80.5) would silently give 80
                raise ValueError(f"expected an integer, got {raw!r}")
            return int(raw)
        if target in (float, "float"):
            return float(raw)
        if target in (Path, "Path"):
            return Path(str(raw))
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r} from {origin}: {exc}") from None


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build validated settings from file, environment and explicit overrides."""
    env = os.environ if env is None else env
    known = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = (
        Path(config_file)
        if config_file
        else Path(env.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG_FILE))
    )
    if config_file and not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _cast(key, raw, known[key], str(path))

    for name, target in known.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _cast(name, raw, target, ENV_PREFIX + name.upper())

    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _cast(name, raw, known[name], "the command line")

    return dataclasses.replace(Settings(), **values).validate()
