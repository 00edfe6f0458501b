"""The built-in models, registered exactly as a third-party model would be.

Rule-based weights (normalised per conversion by the engine, see ``model.TouchTerms``):

- ``first_touch`` / ``last_touch``: all credit to the first / last touch;
- ``last_non_direct``: all credit to the last touch that is not a direct visit (the last
  touch when every touch is direct);
- ``linear``: equal credit to every touch;
- ``time_decay``: weight ``0.5 ** (age_days / half_life_days)``;
- ``position_based``: ``first`` and ``last`` shares to the first and last touch, ``middle``
  split equally between the touches in between; a two-touch path splits first:last, a
  one-touch path gets everything.

Data-driven models live in their own modules: ``markov`` and ``shapley``.
"""

from __future__ import annotations

from convtrack.attribution import markov, shapley  # noqa: F401  (they register themselves)
from convtrack.attribution.model import TouchModel, TouchTerms, register
from convtrack.errors import ConvtrackError


def _number(name: str, value: object, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConvtrackError("invalid_model_option", f"{name} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConvtrackError("invalid_model_option", f"{name} must be {bounds}, got {value}")
    return float(value)


@register("first_touch", "all credit to the first touch in the window")
class FirstTouch(TouchModel):
    def weight_sql(self, t: TouchTerms) -> str:
        return f"CASE WHEN {t.position} = 0 THEN 1.0 ELSE 0.0 END"


@register("last_touch", "all credit to the last touch before the conversion")
class LastTouch(TouchModel):
    def weight_sql(self, t: TouchTerms) -> str:
        return f"CASE WHEN {t.position} = {t.touches} - 1 THEN 1.0 ELSE 0.0 END"


@register("last_non_direct", "all credit to the last touch that is not a direct visit")
class LastNonDirect(TouchModel):
    def weight_sql(self, t: TouchTerms) -> str:
        last = f"COALESCE({t.last_non_direct}, {t.touches} - 1)"
        return f"CASE WHEN {t.position} = {last} THEN 1.0 ELSE 0.0 END"


@register("linear", "equal credit to every touch")
class Linear(TouchModel):
    def weight_sql(self, t: TouchTerms) -> str:
        return "1.0"


@register(
    "time_decay",
    "credit halves every half_life_days before the conversion",
    options={"half_life_days": 7.0},
)
class TimeDecay(TouchModel):
    def __init__(self, half_life_days: float) -> None:
        self.half_life = _number("half_life_days", half_life_days, 0.001)

    def weight_sql(self, t: TouchTerms) -> str:
        return f"POWER(0.5, {t.age_days} / {self.half_life!r})"


@register(
    "position_based",
    "first and last touch get fixed shares, the middle splits the rest (U-shaped)",
    options={"first": 0.4, "middle": 0.2, "last": 0.4},
)
class PositionBased(TouchModel):
    def __init__(self, first: float, middle: float, last: float) -> None:
        self.first = _number("first", first, 0, 1)
        self.middle = _number("middle", middle, 0, 1)
        self.last = _number("last", last, 0, 1)
        if abs(self.first + self.middle + self.last - 1) > 1e-9:
            raise ConvtrackError("invalid_model_option", "first + middle + last must add up to 1")
        if self.first + self.last == 0:
            raise ConvtrackError("invalid_model_option", "first + last must be above 0")

    def weight_sql(self, t: TouchTerms) -> str:
        f, m, la = self.first, self.middle, self.last
        end = f"{t.touches} - 1"
        two = f"CASE WHEN {t.position} = 0 THEN {f!r} ELSE {la!r} END"
        many = (
            f"CASE WHEN {t.position} = 0 THEN {f!r} WHEN {t.position} = {end} THEN {la!r} "
            f"ELSE {m!r} / ({t.touches} - 2) END"
        )
        return f"CASE WHEN {t.touches} = 1 THEN 1.0 WHEN {t.touches} = 2 THEN {two} ELSE {many} END"
