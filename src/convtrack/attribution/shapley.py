"""Shapley-value attribution: labels are players, a coalition's worth is its conversion rate.

**The game.** ``v(S)`` = conversions / (conversions + nulls) of the journeys whose set of
*distinct* labels is exactly ``S``; ``v(∅) = 0`` and a coalition no journey had is worth 0.
A conversion rate rather than a count, so that a coalition is worth how well its journeys
convert, not how many there were (a popular pair of channels is not "better" for being
popular); the exact set rather than every superset, because a journey is evidence about
the coalition that actually reached the person (Shao & Li 2011; Dalessandro et al. 2012).

**Per path.** A converting path with distinct labels ``T`` gets the Shapley values of the
game restricted to the subsets of ``T`` (players = ``T``). Only observed coalitions are
worth anything, so only they contribute::

    φ_i = Σ_{S⊆T, i∈S} (|S|-1)!(k-|S|)!/k! v(S) - Σ_{S⊆T, i∉S} |S|!(k-|S|-1)!/k! v(S)

over the observed ``S`` (``k = |T|``): the subsets of ``T`` are enumerated when ``2^k`` is
small, the observed coalitions are scanned otherwise. Shares are ``max(φ_i, 0)``
normalised over ``T`` (equal shares if none is positive). Paths without conversions get
no shares (they credit nothing).

**Methods.** ``exact`` as above (at most 24 distinct labels per path); ``simplified`` is
Zhao, Mahboobi & Bagheri (2018), "Shapley value methods for attribution modeling in online
advertising": under the additive game ``v(S) = Σ_{T⊆S} R(T)`` (``R`` = conversions of the
journeys with exactly ``T``), ``φ_j = Σ_{T∋j} R(T)/|T|``, i.e. an equal share among each
converting path's distinct labels. ``auto`` (the default) is exact for paths with at most
``max_exact_channels`` distinct labels and simplified beyond.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, combinations
from math import comb, factorial
from typing import Any

import numpy as np
from scipy import sparse

from convtrack.attribution.model import PathModel, PathSet, register
from convtrack.attribution.path_labels import distinct_labels, normalise_rows
from convtrack.errors import ConvtrackError

METHODS = ("auto", "exact", "simplified")
EXACT_LIMIT = 24  # distinct labels per path the exact method accepts
SCAN_FROM = 12  # from this many players, scan observed coalitions instead of all subsets

Coalition = tuple[int, ...]  # sorted label indices


def shapley_values(
    players: Sequence[int], v: Callable[[frozenset[int]], float]
) -> dict[int, float]:
    """Exact Shapley values by brute force over every coalition (``2^n`` calls of ``v``)."""
    n = len(players)
    value = {frozenset(s): v(frozenset(s)) for s in _subsets(players)}
    out = {}
    for i in players:
        others = [p for p in players if p != i]
        out[i] = sum(
            factorial(len(s)) * factorial(n - len(s) - 1) / factorial(n)
            * (value[frozenset(s) | {i}] - value[frozenset(s)])
            for s in _subsets(others)
        )  # fmt: skip
    return out


def _subsets(items: Sequence[int]) -> chain[tuple[int, ...]]:
    return chain.from_iterable(combinations(items, r) for r in range(len(items) + 1))


def coalition_rates(paths: PathSet) -> dict[Coalition, float]:
    """The game: each observed set of distinct labels and its conversion rate."""
    conv: dict[Coalition, float] = {}
    total: dict[Coalition, float] = {}
    for key, c, n in zip(
        _keys(distinct_labels(paths)), paths.conversions, paths.nulls, strict=True
    ):
        conv[key] = conv.get(key, 0.0) + float(c)
        total[key] = total.get(key, 0.0) + float(c + n)
    return {k: conv[k] / t for k, t in total.items() if t > 0 and conv[k] > 0}


def _keys(member: sparse.csr_matrix) -> list[Coalition]:
    ind, ptr = member.indices.tolist(), member.indptr.tolist()
    return [tuple(ind[a:b]) for a, b in zip(ptr[:-1], ptr[1:], strict=True)]


class Game:
    """The observed coalitions, ready for fast restricted Shapley values."""

    def __init__(self, rates: dict[Coalition, float], n_labels: int) -> None:
        self.rates = rates
        self.keys = list(rates)
        sizes = np.fromiter(map(len, self.keys), dtype=np.int64, count=len(self.keys))
        rows = np.repeat(np.arange(len(self.keys)), sizes)
        cols = np.fromiter(chain.from_iterable(self.keys), dtype=np.int64, count=int(sizes.sum()))
        shape = (len(self.keys), n_labels)
        self.incidence = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=shape)
        self.sizes = sizes

    def observed_subsets(self, players: Coalition) -> list[Coalition]:
        """The observed coalitions inside ``players`` (enumerated or scanned)."""
        if len(players) < SCAN_FROM:
            return [s for s in _subsets(players) if s in self.rates]
        inside = np.zeros(self.incidence.shape[1])
        inside[list(players)] = 1.0
        hits = np.flatnonzero(self.incidence @ inside == self.sizes)
        return [self.keys[i] for i in hits]

    def values(self, players: Coalition) -> np.ndarray:
        """Shapley values of the game restricted to ``players`` (in their order)."""
        k = len(players)
        subs = self.observed_subsets(players)
        if not subs:
            return np.zeros(k)
        where = {p: j for j, p in enumerate(players)}
        size = np.fromiter(map(len, subs), dtype=np.int64, count=len(subs))
        worth = np.array([self.rates[s] for s in subs])
        inside = np.zeros((len(subs), k), dtype=bool)
        inside[np.repeat(np.arange(len(subs)), size), [where[p] for s in subs for p in s]] = True
        ways = np.array([k * comb(k - 1, j) for j in range(k)] + [np.inf], dtype=np.float64)
        # a member gains (|S|-1)!(k-|S|)!/k! = 1/(k C(k-1,|S|-1)) of v(S); an outsider loses
        # |S|!(k-|S|-1)!/k! = 1/(k C(k-1,|S|)) of it (nothing when S = T)
        return inside.T @ (worth / ways[size - 1]) - (~inside).T @ (worth / ways[size])


def check_options(method: object, max_exact_channels: object) -> tuple[str, int]:
    if method not in METHODS:
        raise ConvtrackError(
            "invalid_model_option", f"method must be one of {', '.join(METHODS)}, got {method!r}"
        )
    limit = max_exact_channels
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= EXACT_LIMIT:
        raise ConvtrackError(
            "invalid_model_option",
            f"max_exact_channels must be an integer from 1 to {EXACT_LIMIT}, got {limit!r}",
        )
    return str(method), limit


@register(
    "shapley",
    "data-driven: Shapley values of the channels, a coalition worth its conversion rate",
    options={"method": "auto", "max_exact_channels": 20},
)
class Shapley(PathModel):
    def __init__(self, method: str, max_exact_channels: int) -> None:
        self.method, self.limit = check_options(method, max_exact_channels)

    def _exact(self, size: int) -> bool:
        if self.method == "simplified":
            return False
        if self.method == "exact":
            if size > EXACT_LIMIT:
                raise ConvtrackError(
                    "model_too_large",
                    f"A converting path has {size} distinct channels; the exact Shapley "
                    f"method handles at most {EXACT_LIMIT}. Use method=auto or simplified.",
                )
            return True
        return size <= self.limit

    def path_shares(self, paths: PathSet) -> sparse.csr_matrix:
        member = distinct_labels(paths)
        keys = _keys(member)
        converting = paths.conversions > 0
        todo = {keys[i] for i in np.flatnonzero(converting) if self._exact(len(keys[i]))}
        game = Game(coalition_rates(paths), len(paths.labels)) if todo else None
        phi = {t: np.maximum(game.values(t), 0.0) for t in todo} if game else {}
        values = np.concatenate(
            [phi[t] if t in phi else np.ones(len(t)) for t in keys] or [np.zeros(0)]
        )
        shares = normalise_rows(member, values)
        return sparse.csr_matrix(sparse.diags(converting.astype(np.float64)) @ shares)

    def explain(self, paths: PathSet) -> dict[str, Any]:
        """How many converting label sets each method handled (report metadata)."""
        keys = set(_keys(distinct_labels(paths)[paths.conversions > 0]))
        exact = sum(self._exact(len(t)) for t in keys)
        return {"method": self.method, "exact_sets": exact, "simplified_sets": len(keys) - exact}
