"""Markov-chain attribution: each label's removal effect in an order-k chain over the paths.

**The chain** (order ``k``, 1 to 4). A journey is a walk from a ``START`` state to one of
two absorbing states, ``CONVERSION`` and ``NULL``. After its ``i``-th touch the walk is in
the state "the last ``min(i, k)`` labels", as a tuple in time order: the first ``k - 1``
states of a path are its prefixes, every later state is the window of its last ``k``
labels, and repeats are kept (``(a, a)`` is a state of an order-2 chain). A distinct path
with ``c`` conversions and ``n`` nulls adds ``c + n`` to each transition
``START -> s1 -> ... -> s_last``, then ``c`` to ``s_last -> CONVERSION`` and ``n`` to
``s_last -> NULL``; probabilities are these counts over each state's total.
(ChannelAttribution starts at the first window instead of the prefixes; the prefix states
form a tree that reproduces the observed first windows, so both give the same removal
effects. Self-loops change no absorption probability.)

**Removal effect** of label ``c``: ``RE(c) = 1 - P_without_c(CONVERSION) / P(CONVERSION)``,
where without ``c`` every transition into a state that contains ``c`` goes to ``NULL``.
Equivalently the share of the chain's conversions whose walk meets ``c``; it is computed
exactly from the linear system of the chain (``absorbing.through``), not by simulation.

**Credits.** The ``conversion_credits`` table holds a per-conversion allocation: each
distinct label of a path gets ``RE(label) / sum of RE over the path's distinct labels``
(equal shares if that sum is 0). ``global_totals`` is the other usual allocation (what
ChannelAttribution reports): all conversions spread over labels as ``RE / sum(RE)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from convtrack.attribution import absorbing
from convtrack.attribution.model import PathModel, PathSet, register
from convtrack.attribution.path_labels import flatten, shares_from_weights
from convtrack.errors import ConvtrackError

MAX_ORDER = 4


@dataclass(frozen=True)
class Chain:
    """The transient states of the chain (``START`` included) and their transitions."""

    members: np.ndarray  # (n_states, k): labels in the state, most recent first; -1: none
    q: sparse.csr_matrix  # transient -> transient probabilities
    conversion: np.ndarray  # probability of converting next, per state
    start: int


def check_order(order: object) -> int:
    """The ``order`` option as an int from 1 to 4 (a clear error otherwise)."""
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise ConvtrackError(
            "invalid_model_option",
            f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}",
        )
    return order


def build_chain(paths: PathSet, order: int) -> Chain:
    """The order-``order`` chain of the paths (paths with no journeys are left out)."""
    k = check_order(order)
    weight = paths.conversions + paths.nulls
    lengths, flat = flatten(paths)
    used = weight > 0
    flat, lengths = flat[np.repeat(used, lengths)], lengths[used]
    conv, null, weight = paths.conversions[used], paths.nulls[used], weight[used]
    firsts = np.cumsum(lengths) - lengths
    members, state = _states(flat, lengths, firsts, k, len(paths.labels))
    del flat
    n = len(members)
    start = 0  # the all-empty state sorts first
    before = np.empty_like(state)
    before[1:] = state[:-1]
    before[firsts] = start
    counts = sparse.csr_matrix((np.repeat(weight, lengths), (before, state)), shape=(n, n))
    del before
    last = state[firsts + lengths - 1]
    to_conv = np.bincount(last, weights=conv, minlength=n)
    total = np.asarray(counts.sum(axis=1)).ravel() + to_conv + np.bincount(last, null, n)
    scale = 1.0 / np.where(total > 0, total, 1.0)
    return Chain(members, sparse.csr_matrix(sparse.diags(scale) @ counts), to_conv * scale, start)


def _states(
    flat: np.ndarray, lengths: np.ndarray, firsts: np.ndarray, k: int, n_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct states (``START`` first) as labels, most recent first (-1: none), and
    each touch's state. A state is coded as one int64 (base ``n_labels + 1`` digits), which
    is much faster and smaller than unique rows."""
    base = n_labels + 1
    if base**k >= 2**62:
        return _states_by_rows(flat, lengths, firsts, k)
    small = np.int32 if len(flat) < 2**31 else np.int64
    pos: np.ndarray = np.arange(len(flat), dtype=small) - np.repeat(firsts.astype(small), lengths)
    codes = np.zeros(len(flat) + 1, dtype=np.int64)  # codes[0]: START
    codes[1:] = flat + 1
    for back in range(1, k):  # the label `back` touches earlier, if the path had one
        digit = (flat[:-back] + 1) * base**back
        digit[pos[back:] < back] = 0
        codes[1 + back :] += digit
    del pos
    distinct = np.unique(codes)
    state = np.searchsorted(distinct, codes[1:])
    powers = base ** np.arange(k, dtype=np.int64)
    return (distinct[:, None] // powers[None, :]) % base - 1, state


def _states_by_rows(
    flat: np.ndarray, lengths: np.ndarray, firsts: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``_states`` for label counts whose codes would overflow int64."""
    pos = np.arange(len(flat)) - np.repeat(firsts, lengths)
    rows = np.full((len(flat) + 1, k), -1, dtype=np.int64)
    for back in range(k):
        has = np.flatnonzero(pos >= back)
        rows[1 + has, back] = flat[has - back]
    members, index = np.unique(rows, axis=0, return_inverse=True)
    return members, index.ravel()[1:]


def removal_effects(paths: PathSet, order: int) -> np.ndarray:
    """``RE(label)`` for every label of ``paths`` (0 for labels in no journey)."""
    chain = build_chain(paths, order)
    if not chain.conversion.any():
        return np.zeros(len(paths.labels))
    sets = label_sets(chain, len(paths.labels))
    p, met = absorbing.through(chain.q, chain.conversion, chain.start, sets)
    return np.minimum(met / p, 1.0)


def label_sets(chain: Chain, n_labels: int) -> sparse.csc_matrix:
    """``n_states × n_labels``: 1 where the state contains the label (what removal cuts)."""
    n, k = chain.members.shape
    rows = np.repeat(np.arange(n), k)
    cols = chain.members.ravel()
    has = cols >= 0
    data = np.ones(int(has.sum()))
    return sparse.csc_matrix((data, (rows[has], cols[has])), shape=(n, n_labels))


def global_totals(paths: PathSet, order: int) -> np.ndarray:
    """All conversions spread over the labels as ``RE / sum(RE)`` (ChannelAttribution's
    ``total_conversions``)."""
    effects = removal_effects(paths, order)
    total = effects.sum()
    return effects / total * paths.conversions.sum() if total > 0 else np.zeros_like(effects)


@register(
    "markov",
    "data-driven: each channel's removal effect in an order-k Markov chain of the paths",
    options={"order": 1},
)
class Markov(PathModel):
    def __init__(self, order: int) -> None:
        self.order = check_order(order)
        self._last: tuple[PathSet, np.ndarray] | None = None  # shares, then explain: solve once

    def effects(self, paths: PathSet) -> np.ndarray:
        """``removal_effects`` of ``paths`` (remembered for the last ``PathSet`` object)."""
        if self._last is None or self._last[0] is not paths:
            self._last = (paths, removal_effects(paths, self.order))
        return self._last[1]

    def path_shares(self, paths: PathSet) -> sparse.csr_matrix:
        return shares_from_weights(paths, self.effects(paths))

    def explain(self, paths: PathSet) -> dict[str, Any]:
        """Removal effects and ChannelAttribution-style totals, per label (report metadata)."""
        effects = self.effects(paths)
        total = effects.sum()
        totals = effects / total * paths.conversions.sum() if total > 0 else effects * 0
        return {
            "order": self.order,
            "removal_effects": dict(zip(paths.labels, effects.tolist(), strict=True)),
            "global_totals": dict(zip(paths.labels, totals.tolist(), strict=True)),
        }
