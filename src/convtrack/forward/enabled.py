"""Which destinations are on: the ``destinations`` setting, credentials from the environment.

A destination is enabled only when listed (``destinations = "meta,ga4"``); its settings come
from ``CONVTRACK_<NAME>_*`` variables and are checked at start-up, so a missing token stops
``convtrack serve`` with a message naming the variable instead of failing on every delivery.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from convtrack.config import Settings
from convtrack.errors import ConfigError
from convtrack.forward.destination import Destination, DestinationConfig, registry


@dataclass(frozen=True)
class Enabled:
    destination: Destination
    config: DestinationConfig

    @property
    def name(self) -> str:
        return self.destination.name


def enabled_names(settings: Settings) -> list[str]:
    """The listed destination names, checked against the registry (order kept, no repeats)."""
    names = list(dict.fromkeys(n.strip() for n in settings.destinations.split(",") if n.strip()))
    known = registry()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"destinations: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def configure(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, Enabled]:
    """Every enabled destination with its configuration; ConfigError names what is missing."""
    env = os.environ if env is None else env
    known = registry()
    found: dict[str, Enabled] = {}
    for name in enabled_names(settings):
        destination = known[name]()
        found[name] = Enabled(destination, destination.config_from_env(env))
    return found
