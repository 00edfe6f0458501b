"""The Shapley model: the axioms, the fast method against brute force, the simplified
method, shares and options."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convtrack.attribution import shapley
from convtrack.attribution.model import PathSet, create
from convtrack.errors import ConvtrackError

Game = Callable[[frozenset[int]], float]


def table_game(values: dict[frozenset[int], float]) -> Game:
    return lambda s: values.get(s, 0.0) if s else 0.0


@st.composite
def games(draw: st.DrawFn) -> tuple[list[int], dict[frozenset[int], float]]:
    players = list(range(draw(st.integers(1, 6))))
    values = {}
    for mask in range(1, 1 << len(players)):
        coalition = frozenset(p for p in players if mask >> p & 1)
        values[coalition] = draw(st.floats(-1, 1, allow_nan=False))
    return players, values


@given(games())
def test_efficiency(game: tuple[list[int], dict[frozenset[int], float]]) -> None:
    players, values = game
    phi = shapley.shapley_values(players, table_game(values))
    assert sum(phi.values()) == pytest.approx(values[frozenset(players)], abs=1e-9)


@given(games())
def test_symmetry(game: tuple[list[int], dict[frozenset[int], float]]) -> None:
    players, values = game
    if len(players) < 2:
        return
    a, b = players[0], players[1]

    def swap(s: frozenset[int]) -> frozenset[int]:
        return frozenset(b if p == a else a if p == b else p for p in s)

    # Make a and b interchangeable: v(S) = v(swap(S)) for every S.
    sym = {s: (v + values[swap(s)]) / 2 for s, v in values.items()}
    phi = shapley.shapley_values(players, table_game(sym))
    assert phi[a] == pytest.approx(phi[b], abs=1e-9)


@given(games())
def test_null_player(game: tuple[list[int], dict[frozenset[int], float]]) -> None:
    players, values = game
    null = len(players)  # a new player who changes no coalition's worth
    phi = shapley.shapley_values([*players, null], lambda s: table_game(values)(s - {null}))
    assert phi[null] == pytest.approx(0.0, abs=1e-9)
    assert [phi[p] for p in players] == pytest.approx(
        list(shapley.shapley_values(players, table_game(values)).values()), abs=1e-9
    )


@st.composite
def pathsets(draw: st.DrawFn, max_labels: int = 5) -> PathSet:
    n_labels = draw(st.integers(1, max_labels))
    label = st.integers(0, n_labels - 1)
    rows = draw(
        st.dictionaries(
            st.lists(label, min_size=1, max_size=6).map(tuple),
            st.tuples(st.integers(0, 5), st.integers(0, 5)),
            min_size=1,
            max_size=20,
        )
    )
    return PathSet(
        [f"c{i}" for i in range(n_labels)],
        list(rows),
        np.array([c for c, _ in rows.values()], dtype=np.float64),
        np.array([n for _, n in rows.values()], dtype=np.float64),
    )


def model(**options: object) -> shapley.Shapley:
    found = create("shapley", **options)
    assert isinstance(found, shapley.Shapley)
    return found


def brute_game(paths: PathSet) -> Game:
    """v(S) straight from the definition, journey by journey."""

    def v(s: frozenset[int]) -> float:
        conv = total = 0.0
        for path, c, n in zip(paths.paths, paths.conversions, paths.nulls, strict=True):
            if frozenset(path) == s:
                conv, total = conv + c, total + c + n
        return conv / total if total else 0.0

    return v


@settings(max_examples=60, deadline=None)
@given(pathsets())
def test_fast_values_equal_brute_force(paths: PathSet) -> None:
    game = shapley.Game(shapley.coalition_rates(paths), len(paths.labels))
    v = brute_game(paths)
    for path, conv in zip(paths.paths, paths.conversions, strict=True):
        if conv > 0:
            players = tuple(sorted(set(path)))
            expected = shapley.shapley_values(players, v)
            assert game.values(players) == pytest.approx([expected[p] for p in players], abs=1e-9)


def test_scanning_observed_coalitions_equals_enumerating() -> None:
    rng = np.random.default_rng(3)
    rows = {}
    for _ in range(300):
        rows[tuple(int(x) for x in rng.integers(0, 14, int(rng.integers(1, 9))))] = (
            float(rng.integers(0, 3)),
            float(rng.integers(0, 9)),
        )
    paths = PathSet(
        [f"c{i}" for i in range(14)],
        list(rows),
        np.array([c for c, _ in rows.values()]),
        np.array([n for _, n in rows.values()]),
    )
    game = shapley.Game(shapley.coalition_rates(paths), 14)
    players = tuple(range(14))  # 14 >= SCAN_FROM: scanned
    assert len(players) >= shapley.SCAN_FROM
    v = brute_game(paths)
    expected = shapley.shapley_values(players, v)
    assert game.values(players) == pytest.approx([expected[p] for p in players], abs=1e-9)


@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.dictionaries(
                st.frozensets(st.integers(0, n - 1), min_size=1), st.floats(0, 10), max_size=12
            ),
        )
    )
)
def test_additive_game_exact_equals_simplified(
    case: tuple[int, dict[frozenset[int], float]],
) -> None:
    n, r = case
    players = list(range(n))

    def v(s: frozenset[int]) -> float:  # v(S) = Σ_{T⊆S} R(T)
        return sum(w for t, w in r.items() if t <= s)

    phi = shapley.shapley_values(players, v)
    simplified = {j: sum(w / len(t) for t, w in r.items() if j in t) for j in players}
    assert phi == pytest.approx(simplified, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(pathsets(), st.sampled_from(["auto", "exact", "simplified"]), st.integers(1, 6))
def test_shares_rows_sum_to_one(paths: PathSet, method: str, limit: int) -> None:
    shares = model(method=method, max_exact_channels=limit).path_shares(paths).toarray()
    assert shares.shape == (len(paths.paths), len(paths.labels))
    for row, path, conv in zip(shares, paths.paths, paths.conversions, strict=True):
        assert (row >= 0).all()
        assert not np.delete(row, list(set(path))).any()
        assert row.sum() == pytest.approx(1.0 if conv > 0 else 0.0, abs=1e-12)


def test_shares_follow_positive_values_and_simplified_is_equal() -> None:
    # v({a}) = 1/4, v({a,b}) = 2/3, v({b}) = 0  =>  φ_a = 1/2·1/4 + 1/2·(2/3 - 0) = 11/24,
    # φ_b = 1/2·0 + 1/2·(2/3 - 1/4) = 5/24: shares 11/16 and 5/16
    paths = PathSet(
        ["a", "b"], [(0,), (0, 1, 0), (1,)], np.array([1.0, 2.0, 0.0]), np.array([3.0, 1.0, 2.0])
    )
    exact = model().path_shares(paths).toarray()
    assert exact == pytest.approx(np.array([[1, 0], [11 / 16, 5 / 16], [0, 0]]))
    simple = model(method="simplified").path_shares(paths)
    assert simple.toarray() == pytest.approx(np.array([[1, 0], [0.5, 0.5], [0, 0]]))


def test_auto_uses_simplified_beyond_the_limit() -> None:
    paths = PathSet(["a", "b", "c"], [(0,), (0, 1, 2)], np.array([5.0, 1.0]), np.array([0.0, 0.0]))
    auto = model(max_exact_channels=2)
    assert auto.path_shares(paths).toarray()[1] == pytest.approx([1 / 3] * 3)
    assert auto.explain(paths) == {"method": "auto", "exact_sets": 1, "simplified_sets": 1}
    exact = model(method="exact", max_exact_channels=2)
    # exact: v(a) = 1, v(abc) = 1, others 0 (k = 3):
    # φ_a = 0!2!/3!·v(a) + 2!0!/3!·v(abc) = 1/3 + 1/3 = 2/3
    # φ_b = 2!0!/3!·v(abc) - 1!1!/3!·v(a) = 1/3 - 1/6 = 1/6, and φ_c = φ_b
    assert exact.path_shares(paths).toarray()[1] == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_exact_refuses_more_than_24_channels() -> None:
    path = tuple(range(25))
    paths = PathSet([f"c{i}" for i in range(25)], [path], np.array([1.0]), np.array([0.0]))
    with pytest.raises(ConvtrackError) as err:
        model(method="exact").path_shares(paths)
    assert err.value.code == "model_too_large" and "24" in err.value.message
    auto = model().path_shares(paths).toarray()
    assert auto[0] == pytest.approx([1 / 25] * 25)


@pytest.mark.parametrize(
    "options",
    [{"method": "fast"}, {"max_exact_channels": 0}, {"max_exact_channels": 25},
     {"max_exact_channels": 2.0}, {"max_exact_channels": True}],
)  # fmt: skip
def test_option_validation(options: dict[str, object]) -> None:
    with pytest.raises(ConvtrackError) as err:
        create("shapley", **options)
    assert err.value.code == "invalid_model_option"
