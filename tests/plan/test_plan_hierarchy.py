"""The conversion hierarchy: roll-ups, orphans and cycles."""

from __future__ import annotations

from convtrack.plan import hierarchy


def test_rollup_counts_into_each_ancestor() -> None:
    assert hierarchy.rollup("purchase/subscription/renewal") == [
        "purchase/subscription/renewal",
        "purchase/subscription",
        "purchase",
    ]
    assert hierarchy.rollup("lead") == ["lead"]


def test_orphans() -> None:
    cats = ["purchase", "purchase/subscription/renewal", "lead/form"]
    assert hierarchy.orphans(cats) == {
        "purchase/subscription/renewal": "purchase/subscription",
        "lead/form": "lead",
    }


def test_cycle_is_a_category_that_is_its_own_ancestor() -> None:
    assert hierarchy.path_problem("purchase/subscription/renewal") is None
    problem = hierarchy.path_problem("purchase/renewal/purchase")
    assert problem is not None and "own ancestor" in problem and "'purchase'" in problem
    assert "segment ''" in (hierarchy.path_problem("purchase//x") or "")


def test_tree() -> None:
    cats = ["purchase", "purchase/subscription", "purchase/subscription/renewal", "lead"]
    assert hierarchy.tree(cats) == {
        "": ["lead", "purchase"],
        "purchase": ["purchase/subscription"],
        "purchase/subscription": ["purchase/subscription/renewal"],
    }
