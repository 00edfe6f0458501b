"""The attribution model interface and its registry (built-ins register the same way).

A model gives every conversion's touchpoints credits that sum to 1. There are two ways to
say how, and a model implements exactly one of them:

- ``weight_sql`` (rule-based models): an SQL expression of one touch's *weight*, over the
  columns of ``TouchTerms``. The engine divides each weight by the sum of its conversion's
  weights, inside the store's engine, so the rule never leaves SQL.
- ``path_shares`` (data-driven models): from the aggregated distinct paths (``PathSet``),
  each path's share per label. The engine spreads a label's share over that label's touches
  in the path equally, and multiplies by each path's conversions and value.

Register a model with ``@register`` on a factory that takes keyword options::

    @register("my_model", "what it does", options={"alpha": 0.5})
    class MyModel(TouchModel): ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from convtrack.errors import ConvtrackError


@dataclass(frozen=True)
class TouchTerms:
    """Column names a rule-based weight expression may use (one row per touch of one
    conversion's path, in time order; ties broken by touch id).

    - ``position``: 0 for the first touch of the path, ``touches - 1`` for the last;
    - ``touches``: how many touches the path has (at least 1);
    - ``age_days``: days from the touch to the conversion (fractional, >= 0);
    - ``is_direct``: true for a direct visit (no campaign, no referrer) and for the synthetic
      touch a conversion without any touch in its windows gets;
    - ``last_non_direct``: position of the path's last non-direct touch (NULL if none).
    """

    position: str = "position"
    touches: str = "touches"
    age_days: str = "age_days"
    is_direct: str = "is_direct"
    last_non_direct: str = "last_non_direct"


@dataclass(frozen=True)
class PathSet:
    """Distinct journeys at one level (channel, campaign, ...), aggregated.

    ``paths[i]`` is a tuple of label indices in time order (repeats kept; never empty);
    ``conversions[i]`` and ``nulls[i]`` count the converting and the non-converting journeys
    that followed it. Non-converting journeys are the touches after a person's last
    conversion (see docs/attribution.md); paths only seen without conversion have
    ``conversions[i] == 0``.
    """

    labels: list[str]
    paths: list[tuple[int, ...]]
    conversions: np.ndarray  # float64, shape (len(paths),)
    nulls: np.ndarray  # float64, shape (len(paths),)

    def __post_init__(self) -> None:
        n = len(self.paths)
        if self.conversions.shape != (n,) or self.nulls.shape != (n,):
            raise ValueError("conversions and nulls need one entry per path")


class AttributionModel:
    """Base of every model. ``name`` is set by ``register``; options are keyword arguments."""

    name: str = ""
    options: Mapping[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "options": dict(self.options)}


class TouchModel(AttributionModel):
    """A rule: each touch's weight from its place and age in the path, as SQL."""

    def weight_sql(self, t: TouchTerms) -> str:
        raise NotImplementedError


class PathModel(AttributionModel):
    """Data-driven: shares per distinct path, computed on the aggregated paths."""

    def path_shares(self, paths: PathSet) -> sparse.csr_matrix:
        """A ``len(paths.paths) × len(paths.labels)`` matrix; each row with conversions
        sums to 1 over the labels that occur in that path (and is 0 elsewhere)."""
        raise NotImplementedError


Factory = Callable[..., AttributionModel]


@dataclass(frozen=True)
class Registered:
    name: str
    description: str
    factory: Factory
    options: dict[str, Any] = field(default_factory=dict)  # option -> default


_REGISTRY: dict[str, Registered] = {}


def register(
    name: str, description: str, options: Mapping[str, Any] | None = None
) -> Callable[[Factory], Factory]:
    """Class decorator: make a model available to ``convtrack attribute --model NAME``."""

    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = Registered(name, description, factory, dict(options or {}))
        return factory

    return add


def registered() -> dict[str, Registered]:
    """Every model, built-ins first (importing ``builtin`` registers them)."""
    import convtrack.attribution.builtin  # noqa: F401  (registers the built-in models)

    return dict(_REGISTRY)


def create(name: str, **options: Any) -> AttributionModel:
    """A model by name with options (unknown names and options are clear errors)."""
    models = registered()
    entry = models.get(name)
    if entry is None:
        raise ConvtrackError(
            "unknown_model", f"No attribution model {name!r}; models: {', '.join(models)}"
        )
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        allowed = ", ".join(entry.options) or "none"
        raise ConvtrackError(
            "unknown_model_option",
            f"Model {name!r} has no option {', '.join(unknown)} (options: {allowed})",
        )
    merged = {**entry.options, **options}
    model = entry.factory(**merged)
    model.name = name
    model.options = merged
    return model
