"""The Markov model: hand-solved chains, a brute-force check, shares and options."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convtrack.attribution import absorbing, markov
from convtrack.attribution.model import PathSet, create
from convtrack.errors import ConvtrackError


def pathset(rows: list[tuple[tuple[int, ...], float, float]], n_labels: int) -> PathSet:
    return PathSet(
        [f"c{i}" for i in range(n_labels)],
        [p for p, _, _ in rows],
        np.array([c for _, c, _ in rows], dtype=np.float64),
        np.array([n for _, _, n in rows], dtype=np.float64),
    )


def model(**options: object) -> markov.Markov:
    found = create("markov", **options)
    assert isinstance(found, markov.Markov)
    return found


A, B = 0, 1
# (path, conversions, nulls)
SMALL = pathset([((A,), 1, 1), ((A, B), 1, 0), ((B,), 0, 2)], 2)


def test_order_1_solved_by_hand() -> None:
    # START -> A: 3 journeys (A twice, AB once), START -> B: 2  => 3/5, 2/5
    # A -> B 1, A -> conv 1, A -> null 1                        => 1/3 each
    # B -> conv 1 (AB), B -> null 2 (B)                          => 1/3, 2/3
    # x_B = 1/3; x_A = 1/3 + 1/3 * x_B = 4/9
    # x_S = 3/5 * 4/9 + 2/5 * 1/3 = 2/5 (2 conversions out of 5 journeys)
    # without A: x_S = 2/5 * 1/3 = 2/15          => RE_A = 1 - (2/15)/(2/5) = 2/3
    # without B: x_A = 1/3, x_S = 3/5 * 1/3 = 1/5 => RE_B = 1 - (1/5)/(2/5) = 1/2
    assert markov.removal_effects(SMALL, 1) == pytest.approx([2 / 3, 1 / 2], abs=1e-12)
    # 2 conversions spread as RE / sum(RE): A 2 * (2/3)/(7/6) = 8/7, B 6/7
    assert markov.global_totals(SMALL, 1) == pytest.approx([8 / 7, 6 / 7], abs=1e-12)
    shares = model().path_shares(SMALL).toarray()
    # path AB: A (2/3)/(2/3 + 1/2) = 4/7, B 3/7; single-label paths get everything
    assert shares == pytest.approx(np.array([[1, 0], [4 / 7, 3 / 7], [0, 1]]), abs=1e-12)


def test_order_2_solved_by_hand() -> None:
    paths = pathset([((A, B), 1, 0), ((B, A), 0, 1), ((B,), 1, 1)], 2)
    # states: START, (A), (B), (A,B), (B,A)
    # START -> (A) 1, -> (B) 3               => 1/4, 3/4
    # (A) -> (A,B) 1; (A,B) -> conv 1         => x(A,B) = 1, x(A) = 1
    # (B) -> (B,A) 1, -> conv 1, -> null 1   => 1/3 each; (B,A) -> null: x(B,A) = 0
    # x(B) = 1/3; x_S = 1/4 * 1 + 3/4 * 1/3 = 1/2
    # without A ((A), (A,B), (B,A) cut): x_S = 3/4 * 1/3 = 1/4 => RE_A = 1/2
    # without B ((B), (A,B), (B,A) cut): x(A) = 0, x_S = 0     => RE_B = 1
    assert markov.removal_effects(paths, 2) == pytest.approx([1 / 2, 1], abs=1e-12)
    # The same paths at order 1 (B -> A and A -> B mix): RE_A = 1/4 only.
    # B: conv 2/4, -> A 1/4, null 1/4; A: -> B 1/2, null 1/2; x_B = 4/7, x_A = 2/7
    # x_S = 1/4 * 2/7 + 3/4 * 4/7 = 1/2; without A: x_S = 3/4 * 1/2 = 3/8 => RE_A = 1/4
    assert markov.removal_effects(paths, 1) == pytest.approx([1 / 4, 1], abs=1e-12)


def brute_force(paths: PathSet, order: int) -> np.ndarray:
    """The chain built with dicts and, per label, re-solved densely with the label cut."""
    count: dict[tuple[int, ...], dict[tuple[int, ...] | str, Fraction]] = {}
    for path, conv, null in zip(paths.paths, paths.conversions, paths.nulls, strict=True):
        if conv + null == 0:
            continue
        states = [()] + [tuple(path[max(0, i + 1 - order) : i + 1]) for i in range(len(path))]
        for a, b in zip(states, states[1:], strict=False):
            row = count.setdefault(a, {})
            row[b] = row.get(b, Fraction(0)) + Fraction(conv + null)
        end = count.setdefault(states[-1], {})
        end["conv"] = end.get("conv", Fraction(0)) + Fraction(conv)
        end["null"] = end.get("null", Fraction(0)) + Fraction(null)
    names = list(count)
    at = {s: i for i, s in enumerate(names)}

    def p_conv(cut: int | None) -> float:
        q = np.zeros((len(names), len(names)))
        r = np.zeros(len(names))
        for s, row in count.items():
            total = sum(row.values())
            for t, w in row.items():
                if t == "conv":
                    r[at[s]] += w / total
                elif isinstance(t, tuple) and (cut is None or cut not in t):
                    q[at[s], at[t]] += w / total
        return float(np.linalg.solve(np.eye(len(names)) - q, r)[at[()]])

    full = p_conv(None)
    if full == 0:
        return np.zeros(len(paths.labels))
    return np.array([1 - p_conv(c) / full for c in range(len(paths.labels))])


def random_paths(rng: np.random.Generator) -> PathSet:
    n_labels = int(rng.integers(1, 6))
    rows: dict[tuple[int, ...], tuple[float, float]] = {}
    for _ in range(int(rng.integers(1, 25))):
        path = tuple(int(x) for x in rng.integers(0, n_labels, int(rng.integers(1, 7))))
        rows[path] = (float(rng.integers(0, 4)), float(rng.integers(0, 4)))
    return pathset([(p, c, n) for p, (c, n) in rows.items()], n_labels)


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_on_both_routes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    paths = random_paths(rng)
    order = 1 + seed % 4
    expected = brute_force(paths, order)
    assert markov.removal_effects(paths, order) == pytest.approx(expected, abs=1e-10)
    chain = markov.build_chain(paths, order)
    if not chain.conversion.any():
        return
    sets = markov.label_sets(chain, len(paths.labels))
    for dense in (True, False):
        p, met = absorbing.through(chain.q, chain.conversion, chain.start, sets, dense=dense)
        assert met / p == pytest.approx(expected, abs=1e-10)


def test_large_chain_route_on_cycles_matches_dense() -> None:
    # Enough states for levels with cycles and with none; both routes must agree.
    rng = np.random.default_rng(7)
    rows = {}
    for _ in range(3000):
        path = tuple(int(x) for x in rng.integers(0, 12, int(rng.integers(1, 8))))
        rows[path] = (float(rng.integers(0, 3)), float(rng.integers(0, 20)))
    paths = pathset([(p, c, n) for p, (c, n) in rows.items()], 12)
    chain = markov.build_chain(paths, 3)
    sets = markov.label_sets(chain, 12)
    dense = absorbing.through(chain.q, chain.conversion, chain.start, sets, dense=True)
    layered = absorbing.through(chain.q, chain.conversion, chain.start, sets, dense=False)
    assert layered[0] == pytest.approx(dense[0], rel=1e-12)
    assert layered[1] == pytest.approx(dense[1], rel=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_shares_rows_sum_to_one_over_the_paths_labels(order: int) -> None:
    paths = random_paths(np.random.default_rng(100 + order))
    shares = model(order=order).path_shares(paths)
    dense = shares.toarray()
    for i, path in enumerate(paths.paths):
        assert dense[i].sum() == pytest.approx(1.0, abs=1e-12)
        outside = np.setdiff1d(np.arange(len(paths.labels)), path)
        assert not dense[i, outside].any()
        assert (dense[i] >= 0).all()


def test_labels_without_effect_share_equally() -> None:
    # Nothing converts through C (label 2): its own path shares equally with D (label 3).
    paths = pathset([((0,), 1, 0), ((2, 3), 0, 1)], 4)
    assert markov.removal_effects(paths, 1) == pytest.approx([1, 0, 0, 0])
    shares = model().path_shares(paths).toarray()
    assert shares[1] == pytest.approx([0, 0, 0.5, 0.5])


def test_no_conversions_gives_zero_effects() -> None:
    paths = pathset([((0, 1), 0, 3)], 2)
    assert markov.removal_effects(paths, 2).tolist() == [0.0, 0.0]
    assert markov.global_totals(paths, 2).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("bad", [0, 5, -1, 2.0, "2", True, None])
def test_order_must_be_an_integer_from_1_to_4(bad: object) -> None:
    with pytest.raises(ConvtrackError) as err:
        create("markov", order=bad)
    assert err.value.code == "invalid_model_option"
    assert "order" in err.value.message


def test_explain_reports_effects_and_totals() -> None:
    meta = model().explain(SMALL)
    assert meta["order"] == 1
    assert meta["removal_effects"] == pytest.approx({"c0": 2 / 3, "c1": 1 / 2})
    assert meta["global_totals"] == pytest.approx({"c0": 8 / 7, "c1": 6 / 7})
