"""The condition language: JSON round trips, boolean laws, missing values and explanations."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmkit.errors import InvalidInputError
from crmkit.segmentation import (
    And,
    Between,
    Compare,
    Condition,
    Contains,
    EventCount,
    Exists,
    In,
    InSegment,
    Missing,
    Not,
    Or,
    ScoreAtLeast,
    ScoringPlan,
    StartsWith,
    Term,
    condition_from_json,
    condition_to_json,
    evaluate,
    score,
)

AS_OF = np.datetime64("2024-06-01", "us")
TABLE = {
    "customer_id": np.array(["a", "b", "c", "d", "e", "f"]),
    "x": np.array([1.0, np.nan, 3.5, -2.0, 10.0, 0.0]),
    "n": np.array([0, 1, 2, 3, 4, 5]),
    "s": np.array(["news@shop.de", "", "Info@shop.fr", "me@web.de", "x", "news@web.nl"]),
    "t": np.array(
        ["2024-05-30", "NaT", "2023-01-01", "2024-05-01", "2024-06-01", "NaT"],
        dtype="datetime64[us]",
    ),
    "b": np.array([True, False, True, False, True, False]),
}

leaves = st.one_of(
    st.builds(
        Compare,
        field=st.sampled_from(["x", "n"]),
        cmp=st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
        value=st.integers(-3, 6) | st.floats(-3, 11, allow_nan=False),
    ),
    st.builds(
        Compare,
        field=st.just("t"),
        cmp=st.sampled_from(["lt", "ge"]),
        days_ago=st.floats(0, 500, allow_nan=False),
    ),
    st.builds(Compare, field=st.just("b"), cmp=st.sampled_from(["eq", "ne"]), value=st.booleans()),
    st.builds(
        Between,
        field=st.sampled_from(["x", "n"]),
        low=st.floats(-3, 5, allow_nan=False),
        high=st.floats(0, 11, allow_nan=False),
    ),
    st.builds(
        In,
        field=st.just("s"),
        values=st.lists(st.sampled_from(TABLE["s"].tolist()), max_size=3).map(tuple),
    ),
    st.builds(Exists, field=st.sampled_from(["x", "s", "t"])),
    st.builds(Missing, field=st.sampled_from(["x", "s", "t"])),
    st.builds(Contains, field=st.just("s"), text=st.sampled_from(["shop", "NEWS", "@"])),
    st.builds(StartsWith, field=st.just("s"), prefix=st.sampled_from(["news", "I", ""])),
    st.builds(
        EventCount,
        event_type=st.sampled_from(["view", "cart"]),
        within_days=st.floats(1, 60, allow_nan=False),
        at_least=st.integers(0, 3),
    ),
)
conditions: st.SearchStrategy[Condition] = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.builds(And, all=st.lists(kids, max_size=3).map(tuple)),
        st.builds(Or, any=st.lists(kids, max_size=3).map(tuple)),
        st.builds(Not, condition=kids),
        st.builds(
            ScoreAtLeast,
            threshold=st.floats(-2, 4, allow_nan=False),
            plan=st.builds(
                ScoringPlan,
                terms=st.lists(
                    st.builds(Term, weight=st.floats(-2, 3, allow_nan=False), condition=kids),
                    max_size=3,
                ).map(tuple),
            ),
        ),
    ),
    max_leaves=8,
)
EVENTS = {
    "customer_id": np.array(["a", "a", "b", "c", "zz", "f"]),
    "type": np.array(["view", "view", "cart", "cart", "view", "view"]),
    "at": np.array(
        ["2024-05-31", "2024-05-20", "2024-05-31", "2024-01-01", "2024-05-31", "2024-06-01"],
        dtype="datetime64[us]",
    ),
}


def members(c: Condition) -> np.ndarray:
    return evaluate(c, TABLE, events=EVENTS, as_of=AS_OF).members


@settings(max_examples=150, deadline=None)
@given(conditions)
def test_json_round_trip(c: Condition) -> None:
    """Every condition tree survives JSON through the converter unchanged."""
    assert condition_from_json(condition_to_json(c)) == c


@settings(max_examples=150, deadline=None)
@given(conditions, conditions, conditions)
def test_boolean_laws(a: Condition, b: Condition, c: Condition) -> None:
    """Double negation, De Morgan and distributivity hold exactly, missing values included."""
    assert np.array_equal(members(Not(condition=Not(condition=a))), members(a))
    lhs = members(Not(condition=And(all=(a, b))))
    assert np.array_equal(lhs, members(Or(any=(Not(condition=a), Not(condition=b)))))
    dist = And(all=(a, Or(any=(b, c))))
    assert np.array_equal(members(dist), members(Or(any=(And(all=(a, b)), And(all=(a, c))))))


@settings(max_examples=150, deadline=None)
@given(conditions)
def test_explanations_agree_with_membership(c: Condition) -> None:
    """Each customer's explanation root equals membership, and and/or/not nodes follow children."""
    ev = evaluate(c, TABLE, events=EVENTS, as_of=AS_OF)
    res = ev.node_results()
    for i in range(len(TABLE["n"])):
        ex = ev.explain(i)
        assert ex.member == ex.held()["0"] == bool(ev.members[i])
    for node in ev.nodes:
        kids = [
            res[p]
            for p in res
            if p.startswith(node.path + ".") and p.count(".") == node.path.count(".") + 1
        ]
        stacked = np.array(kids, dtype=bool).reshape(len(kids), ev.members.size)
        if node.text.startswith("all of"):
            assert np.array_equal(node.held, stacked.all(axis=0))
        elif node.text.startswith("any of"):
            assert np.array_equal(node.held, stacked.any(axis=0))
        elif node.text == "not":
            assert np.array_equal(node.held, ~kids[0])


def test_missing_values_semantics() -> None:
    """Comparisons are False on missing values; Not includes them; Missing finds them."""
    assert members(Compare(field="x", cmp="ne", value=1.0)).tolist() == [
        False,
        False,
        True,
        True,
        True,
        True,
    ]
    assert members(Not(condition=Compare(field="x", cmp="eq", value=1.0)))[1]
    assert members(Missing(field="t")).tolist() == [False, True, False, False, False, True]
    assert members(Contains(field="s", text="info")).tolist() == [
        False,
        False,
        True,
        False,
        False,
        False,
    ]


def test_relative_dates_events_and_segments() -> None:
    """days_ago counts back from as_of; event windows are (as_of - N, as_of]; segments nest."""
    recent = Compare(field="t", cmp="ge", days_ago=7)
    assert members(recent).tolist() == [True, False, False, False, True, False]
    at_abs = Compare(field="t", cmp="ge", at=dt.datetime(2024, 5, 25, tzinfo=dt.UTC))
    assert np.array_equal(members(at_abs), members(recent))
    views = EventCount(event_type="view", at_least=2, within_days=30)
    assert members(views).tolist() == [True, False, False, False, False, False]
    seg = evaluate(
        And(all=(InSegment(segment="recent"), Compare(field="n", cmp="ge", value=4))),
        TABLE,
        as_of=AS_OF,
        segments={"recent": recent},
    )
    assert seg.member_ids().tolist() == ["e"]
    text = str(seg.explain(customer_id="e"))
    assert "[x] in segment 'recent'" in text
    assert "[x] t >= as_of - 7 days" in text


def test_scoring_plan() -> None:
    """A scoring plan sums the weights of the terms that hold per customer."""
    plan = ScoringPlan(
        terms=(
            Term(weight=2.0, condition=Compare(field="n", cmp="ge", value=3)),
            Term(weight=0.5, condition=Exists(field="x")),
        )
    )
    assert score(plan, TABLE).tolist() == [0.5, 0.0, 0.5, 2.5, 2.5, 2.5]
    assert members(ScoreAtLeast(plan=plan, threshold=2.5)).tolist() == [
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def test_type_errors_name_the_field() -> None:
    """A value of the wrong type for its column is an error naming the field."""
    with pytest.raises(InvalidInputError, match=r"Compare\(x\)"):
        members(Compare(field="x", cmp="eq", value="high"))
    with pytest.raises(InvalidInputError, match="unknown column"):
        members(Exists(field="nope"))
    with pytest.raises(InvalidInputError, match="refers to itself"):
        evaluate(InSegment(segment="a"), TABLE, segments={"a": InSegment(segment="a")})
    with pytest.raises(InvalidInputError, match="invalid field"):
        condition_from_json('{"op": "compare", "field": "x", "cmp": "bigger", "value": 1}')
