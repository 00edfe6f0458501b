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
from convtrack.enrich.consent import OPT_IN_REGIONS
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
    # Secret to sign in to the dashboard at / (docs/dashboard.md); empty: the admin token in
    # <data_dir>/admin.token is the secret.
    dashboard_secret: str = ""
    # First-party anonymous-id cookie set by /v1/events and pixel responses (docs/tag.md);
    # an empty name turns it off. Browsers cap cookie lifetimes at 400 days.
    anon_cookie: str = "ct_aid"
    anon_cookie_days: int = 395
    # Domain attribute of that cookie (e.g. example.com to share it across subdomains).
    cookie_domain: str = ""
    # A request with ``Sec-GPC: 1`` marks its events consent.gpc = true unless they say.
    honor_gpc: bool = True
    # Retention (docs/privacy.md): events and quarantine rows older than retention_days are
    # deleted (0 = keep forever); a full IP older than raw_ip_hours is truncated (0 = never);
    # `convtrack serve` applies both every retention_interval_minutes.
    retention_days: int = 0
    raw_ip_hours: int = 0
    retention_interval_minutes: int = 60
    # Consent at ingest (docs/privacy.md): what is kept when a purpose is denied
    # (full | pseudonymous | nothing), where silence means denied, and the visitor's region.
    consent_analytics_when_denied: str = "pseudonymous"
    consent_ads_when_denied: str = "nothing"
    consent_opt_in_regions: str = ",".join(sorted(OPT_IN_REGIONS))
    consent_unknown_region: str = "granted"
    # The CMP's consent-category ids that mean advertising and analytics, as Segment
    # (context.consent.categoryPreferences) and RudderStack (context.consentManagement) send
    # them (docs/privacy.md); compared without case. Defaults include OneTrust's C0004/C0002.
    consent_ads_categories: str = "advertising,marketing,targeting,C0004"
    consent_analytics_categories: str = "analytics,performance,statistics,C0002"
    # A trusted request header carrying the visitor's ISO country (e.g. cf-ipcountry).
    region_header: str = ""
    # Region assumed when the header is absent or unusable; empty means unknown.
    default_region: str = ""
    # none: keep the IP unless consent says otherwise | always: truncate every IP.
    ip_truncation: str = "none"
    # Identity stitching (docs/cli.md, people): at ingest, which kinds may join people, and caps
    # on one person (0 = no cap); one user_id per person by default.
    identity_stitching: bool = True
    identity_merge_kinds: str = (
        "advertising_id_sha256,anonymous_id,email_sha256,external_id_sha256,phone_sha256,user_id"
    )
    identity_max_identifiers: int = 50
    identity_max_anonymous_ids: int = 20
    identity_max_user_ids: int = 1
    # Forwarding (docs/destinations.md): the enabled destinations (comma list; credentials
    # from CONVTRACK_<NAME>_* variables), whether `convtrack serve` runs their workers, and
    # how the workers claim, send, retry and pause.
    destinations: str = ""
    forward_in_serve: bool = True
    forward_claim_limit: int = 1000
    forward_concurrency: int = 4
    forward_poll_ms: int = 500
    forward_lease_seconds: float = 120.0
    forward_timeout_seconds: float = 10.0
    forward_retry_base_seconds: float = 5.0
    forward_retry_max_seconds: float = 3600.0
    forward_max_attempts: int = 20
    forward_pause_after_failures: int = 50
    forward_pause_after_minutes: float = 15.0
    # SKAdNetwork (docs/mobile.md): source identifier (or campaign id) → campaign name for the
    # aggregated install report, as "12=Spring Sale,13=Summer"; unmapped ids report as is.
    skan_campaigns: str = ""
    # Alerts (docs/qa.md): a webhook posted when a volume anomaly, a dead-letter surge or a
    # paused destination occurs (signed with HMAC-SHA256 when a secret is set); `convtrack
    # serve` checks every alert_interval_minutes (0 = never); a surge is at least
    # alert_dead_letters dead letters to one destination within one interval.
    alert_webhook_url: str = ""
    alert_webhook_secret: str = ""
    alert_interval_minutes: int = 5
    alert_dead_letters: int = 10

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
            (self.retention_days >= 0, "retention_days must be at least 0 (0 = keep forever)"),
            (self.raw_ip_hours >= 0, "raw_ip_hours must be at least 0 (0 = never expire)"),
            (self.retention_interval_minutes >= 1, "retention_interval_minutes must be >= 1"),
            (self.consent_analytics_when_denied in _MODES, "consent_analytics_when_denied " + _M),
            (self.consent_ads_when_denied in _MODES, "consent_ads_when_denied " + _M),
            (
                _regions(self.consent_opt_in_regions),
                "consent_opt_in_regions must list ISO "
                "3166-1 alpha-2 codes separated by commas, e.g. DE,FR,GB",
            ),
            (
                self.consent_unknown_region in {"granted", "denied"},
                "consent_unknown_region must be granted or denied",
            ),
            (_token(self.region_header), "region_header must be a header name"),
            (_regions(self.default_region), "default_region must be an ISO 3166-1 alpha-2 code"),
            (self.ip_truncation in {"none", "always"}, "ip_truncation must be none or always"),
            *_identity_checks(self),
            *_forward_checks(self),
            (_campaign_map_ok(self.skan_campaigns), "skan_campaigns must be like 12=Spring,13=Max"),
            *_alert_checks(self),
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


_MODES = frozenset({"full", "pseudonymous", "nothing"})
_M = "must be full, pseudonymous or nothing"
# TOML sections flattened into settings: [consent] ads_when_denied ≡ consent_ads_when_denied.
SECTIONS = ("consent", "retention", "identity", "forward", "alert")


def campaign_map(text: str) -> dict[str, str]:
    """``"12=Spring Sale, 13=Fall"`` → ``{"12": "Spring Sale", "13": "Fall"}``."""
    pairs = [p.partition("=") for p in text.split(",") if p.strip()]
    return {k.strip(): v.strip() for k, _, v in pairs}


def _campaign_map_ok(text: str) -> bool:
    pairs = [p.partition("=") for p in text.split(",") if p.strip()]
    return all(k.strip().isdigit() and sep and v.strip() for k, sep, v in pairs)


def _regions(text: str) -> bool:
    """Empty, or comma-separated two-letter codes."""
    codes = [c.strip() for c in text.split(",")] if text.strip() else []
    return all(len(c) == 2 and c.isascii() and c.isalpha() for c in codes)


def _flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{"consent": {"ads_when_denied": x}}`` → ``{"consent_ads_when_denied": x}``."""
    out: dict[str, Any] = {}
    for key, raw in data.items():
        if key in SECTIONS and isinstance(raw, dict):
            out.update({f"{key}_{name}": value for name, value in raw.items()})
        else:
            out[key] = raw
    return out


def _identity_checks(s: Settings) -> list[tuple[bool, str]]:
    from convtrack.identity.records import KINDS

    kinds = {k.strip() for k in s.identity_merge_kinds.split(",") if k.strip()}
    caps = ("identity_max_identifiers", "identity_max_anonymous_ids", "identity_max_user_ids")
    return [
        (kinds <= KINDS, "identity_merge_kinds must list kinds among " + ",".join(sorted(KINDS))),
        *((getattr(s, name) >= 0, f"{name} must be at least 0 (0 = no cap)") for name in caps),
    ]


def _forward_checks(s: Settings) -> list[tuple[bool, str]]:
    names = [n.strip() for n in s.destinations.split(",") if n.strip()]
    return [
        (all(n.isidentifier() for n in names), "destinations must be names like meta,ga4"),
        (1 <= s.forward_claim_limit <= 100_000, "forward_claim_limit must be 1..100000"),
        (1 <= s.forward_concurrency <= 64, "forward_concurrency must be 1..64"),
        (10 <= s.forward_poll_ms <= 60_000, "forward_poll_ms must be 10..60000"),
        (s.forward_lease_seconds >= 1, "forward_lease_seconds must be at least 1"),
        (s.forward_timeout_seconds > 0, "forward_timeout_seconds must be more than 0"),
        (s.forward_retry_base_seconds > 0, "forward_retry_base_seconds must be more than 0"),
        (
            s.forward_retry_max_seconds >= s.forward_retry_base_seconds,
            "forward_retry_max_seconds must be at least forward_retry_base_seconds",
        ),
        (s.forward_max_attempts >= 1, "forward_max_attempts must be at least 1"),
        (s.forward_pause_after_failures >= 0, "forward_pause_after_failures must be >= 0"),
        (s.forward_pause_after_minutes >= 0, "forward_pause_after_minutes must be >= 0"),
    ]


def _alert_checks(s: Settings) -> list[tuple[bool, str]]:
    url = s.alert_webhook_url
    return [
        (
            not url or url.startswith(("http://", "https://")),
            "alert_webhook_url must be an http:// or https:// URL",
        ),
        (s.alert_interval_minutes >= 0, "alert_interval_minutes must be at least 0 (0 = never)"),
        (s.alert_dead_letters >= 1, "alert_dead_letters must be at least 1"),
    ]


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
        for key, raw in _flatten(data).items():
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
