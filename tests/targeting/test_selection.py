"""Budget selection: exact MILP optimum, greedy path with a proven gap, constraints always held."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from crmkit.errors import InvalidInputError
from crmkit.targeting import Selection, expected_incremental_value, select_offers

CHANNELS = ["email", "sms"]


def _instance(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "value": rng.gamma(1.0, 5.0, (n, 2)) - 1.5,
        "cost": rng.uniform(0.5, 3.0, (n, 2)),
        "segment": rng.choice(["a", "b"], n),
        "option_channel": CHANNELS,
    }


def _brute_force(
    inst: dict[str, Any], budget: float, cap_sms: int, min_b: int, max_a: int
) -> float:
    n = inst["value"].shape[0]
    best = -np.inf
    for choice in itertools.product([-1, 0, 1], repeat=n):
        ch = np.array(choice)
        rows = np.flatnonzero(ch >= 0)
        cost = inst["cost"][rows, ch[rows]].sum()
        seg = inst["segment"][rows]
        if cost > budget + 1e-9 or (ch == 1).sum() > cap_sms:
            continue
        if (seg == "b").sum() < min_b or (seg == "a").sum() > max_a:
            continue
        best = max(best, float(inst["value"][rows, ch[rows]].sum()))
    return best


def _check_feasible(
    sel: Selection,
    inst: dict[str, Any],
    budget: float,
    caps: dict[str, int],
    smin: dict[str, int],
    smax: dict[str, int],
) -> None:
    rows = np.flatnonzero(sel.selected)
    assert sel.spend <= budget + 1e-6
    ch = np.asarray(inst["option_channel"])[sel.option[rows]]
    for c, cap in caps.items():
        assert (ch == c).sum() <= cap
    seg = np.asarray(inst["segment"])[rows]
    for s, m in smin.items():
        assert (seg == s).sum() >= m
    for s, m in smax.items():
        assert (seg == s).sum() <= m


@pytest.mark.parametrize("seed", range(8))
def test_exact_equals_brute_force_optimum(seed: int) -> None:
    """On 7-customer instances (3^7 choices) the MILP objective equals exhaustive search."""
    inst = _instance(7, seed)
    sel = select_offers(
        inst["value"],
        cost=inst["cost"],
        option_channel=CHANNELS,
        segment=inst["segment"],
        method="exact",
        budget=6.0,
        channel_capacity={"sms": 2},
        segment_min={"b": 1},
        segment_max={"a": 3},
    )
    truth = _brute_force(inst, 6.0, 2, 1, 3)
    assert sel.objective == pytest.approx(truth, abs=1e-9)
    _check_feasible(sel, inst, 6.0, {"sms": 2}, {"b": 1}, {"a": 3})


@pytest.mark.parametrize("seed", range(8))
def test_greedy_is_feasible_and_its_bound_is_valid(seed: int) -> None:
    """Greedy never breaks a constraint and its upper bound is at least the true optimum."""
    inst = _instance(7, seed)
    sel = select_offers(
        inst["value"],
        cost=inst["cost"],
        option_channel=CHANNELS,
        segment=inst["segment"],
        budget=6.0,
        channel_capacity={"sms": 2},
        segment_max={"a": 3},
        method="greedy",
    )
    truth = _brute_force(inst, 6.0, 2, 0, 3)
    _check_feasible(sel, inst, 6.0, {"sms": 2}, {}, {"a": 3})
    assert sel.objective <= truth + 1e-9
    assert sel.upper_bound >= truth - 1e-9


def test_greedy_gap_is_small_on_a_large_instance() -> None:
    """On 4,000 customers × 2 offers the greedy objective is within 1% of the MILP optimum."""
    inst = _instance(4000, 11)
    kw: dict[str, Any] = {
        "cost": inst["cost"],
        "option_channel": CHANNELS,
        "segment": inst["segment"],
        "budget": 1500.0,
        "channel_capacity": {"sms": 300},
        "segment_max": {"a": 900},
    }
    exact = select_offers(inst["value"], method="exact", **kw)
    greedy = select_offers(inst["value"], method="greedy", **kw)
    _check_feasible(greedy, inst, 1500.0, {"sms": 300}, {}, {"a": 900})
    assert greedy.objective <= exact.objective + 1e-6
    assert greedy.upper_bound >= exact.objective - 1e-6
    assert greedy.objective >= 0.99 * exact.objective
    assert greedy.gap < 0.01


def test_segment_minimum_is_met_by_the_greedy_path() -> None:
    """A segment minimum that needs unprofitable offers is still met."""
    value = np.array([5.0, 4.0, -1.0, -2.0])
    sel = select_offers(
        value, cost=1.0, segment=["a", "a", "b", "b"], segment_min={"b": 1}, budget=3.0,
        method="greedy",
    )  # fmt: skip
    assert sel.option.tolist() == [0, 0, 0, -1]
    assert sel.status in ("optimal", "feasible")
    assert sel.objective == pytest.approx(8.0)


def test_infeasible_constraints_raise() -> None:
    """A segment minimum that the budget cannot pay for is an error from the exact path."""
    with pytest.raises(InvalidInputError, match="constraints"):
        select_offers([1.0, 1.0], cost=2.0, budget=1.0, segment=["a", "a"], segment_min={"a": 1})


def test_unknown_labels_are_rejected() -> None:
    """A capacity for a channel that no offer uses is a typo, not a no-op."""
    with pytest.raises(InvalidInputError, match="channel_capacity"):
        select_offers([1.0], option_channel=["email"], channel_capacity={"emial": 1})


def test_expected_incremental_value_formula() -> None:
    """Value = effect × value − contact cost − incentive cost, per customer."""
    out = expected_incremental_value([0.1, -0.02], [50.0, 100.0], contact_cost=0.2,
                                     incentive_cost=[1.0, 0.0])  # fmt: skip
    assert out.tolist() == pytest.approx([3.8, -2.2])
    with pytest.raises(InvalidInputError, match="effect"):
        expected_incremental_value([1.5], [1.0])
