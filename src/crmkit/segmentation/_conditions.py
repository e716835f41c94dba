"""The condition language: typed, frozen, JSON-serializable condition trees.

Every node carries an ``op`` tag, so a tree goes to JSON and back through crmkit's one
converter (``crmkit.serialization.dumps`` / ``loads(text, Condition)``).

Missing values: NaN in number columns, NaT in time columns, ``""`` or None in text columns.
Every condition on a field is False for a customer whose value is missing, except
[`Missing`][crmkit.segmentation.Missing]. [`Not`][crmkit.segmentation.Not] is the complement of
membership, so ``Not(Compare(x > 5))`` includes customers whose ``x`` is missing; the boolean laws
(double negation, De Morgan, distributivity) hold exactly.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal, Union

import attrs

from crmkit.errors import InvalidInputError
from crmkit.model._checks import Scalar

__all__ = [
    "And",
    "Between",
    "Compare",
    "Condition",
    "Contains",
    "EventCount",
    "Exists",
    "In",
    "InSegment",
    "Missing",
    "Not",
    "Or",
    "ScoreAtLeast",
    "ScoringPlan",
    "SegmentDefinition",
    "StartsWith",
    "Term",
    "describe",
]

Cmp = Literal["eq", "ne", "lt", "le", "gt", "ge"]
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _field(_: object, attr: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{attr.name}: expected a non-empty field name (got {value!r}).")


@attrs.frozen(kw_only=True)
class And:
    """Members of every sub-condition (an empty ``And`` holds for everyone).

    Examples:
        >>> describe(And(all=(Exists(field="email"), Compare(field="n_orders", cmp="ge", value=2))))
        'all of (2)'
    """

    all: tuple[Condition, ...]
    op: Literal["and"] = "and"


@attrs.frozen(kw_only=True)
class Or:
    """Members of at least one sub-condition (an empty ``Or`` holds for no one).

    Examples:
        >>> describe(Or(any=(Exists(field="email"),)))
        'any of (1)'
    """

    any: tuple[Condition, ...]
    op: Literal["or"] = "or"


@attrs.frozen(kw_only=True)
class Not:
    """Everyone who is not a member of ``condition`` (missing values included).

    Examples:
        >>> describe(Not(condition=Exists(field="email")))
        'not'
    """

    condition: Condition
    op: Literal["not"] = "not"


@attrs.frozen(kw_only=True)
class Compare:
    """``field <cmp> value`` on a number, text or true/false column; on a time column give
    ``at`` (an aware datetime) or ``days_ago`` (relative to the evaluation's as-of date).

    The value's type must fit the column: numbers for number columns, text for text columns,
    True/False for boolean columns (``eq`` / ``ne`` only).

    Examples:
        >>> describe(Compare(field="last_purchase_at", cmp="ge", days_ago=30))
        'last_purchase_at >= as_of - 30 days'
    """

    field: str = attrs.field(validator=_field)
    cmp: Cmp
    value: Scalar = None
    at: dt.datetime | None = None
    days_ago: float | None = None
    op: Literal["compare"] = "compare"

    def __attrs_post_init__(self) -> None:
        given = [self.value is not None, self.at is not None, self.days_ago is not None]
        if sum(given) != 1:
            raise InvalidInputError(
                f"Compare({self.field}): give exactly one of value, at, days_ago "
                f"(got {sum(given)})."
            )
        if self.at is not None and self.at.tzinfo is None:
            raise InvalidInputError(
                f"Compare({self.field}).at: naive datetime. Attach a time zone (tzinfo=UTC)."
            )
        if isinstance(self.value, float) and math.isnan(self.value):
            raise InvalidInputError(f"Compare({self.field}).value: NaN. Use Missing instead.")


@attrs.frozen(kw_only=True)
class Between:
    """``low <= field <= high`` on a number column (both ends included).

    Examples:
        >>> describe(Between(field="recency_days", low=0, high=30))
        '0 <= recency_days <= 30'
    """

    field: str = attrs.field(validator=_field)
    low: float
    high: float
    op: Literal["between"] = "between"


@attrs.frozen(kw_only=True)
class In:
    """``field`` equals one of ``values`` (text or numbers).

    Examples:
        >>> describe(In(field="country", values=("DE", "AT")))
        "country in ('DE', 'AT')"
    """

    field: str = attrs.field(validator=_field)
    values: tuple[Scalar, ...]
    op: Literal["in"] = "in"


@attrs.frozen(kw_only=True)
class Exists:
    """``field`` has a value (not NaN / NaT / empty).

    Examples:
        >>> describe(Exists(field="email"))
        'email exists'
    """

    field: str = attrs.field(validator=_field)
    op: Literal["exists"] = "exists"


@attrs.frozen(kw_only=True)
class Missing:
    """``field`` has no value (NaN / NaT / empty text / None).

    Examples:
        >>> describe(Missing(field="email"))
        'email is missing'
    """

    field: str = attrs.field(validator=_field)
    op: Literal["missing"] = "missing"


@attrs.frozen(kw_only=True)
class Contains:
    """Text ``field`` contains ``text`` (case-insensitive unless ``case_sensitive``).

    Examples:
        >>> describe(Contains(field="email", text="@shop"))
        "email contains '@shop'"
    """

    field: str = attrs.field(validator=_field)
    text: str
    case_sensitive: bool = False
    op: Literal["contains"] = "contains"


@attrs.frozen(kw_only=True)
class StartsWith:
    """Text ``field`` starts with ``prefix`` (case-sensitive).

    Examples:
        >>> describe(StartsWith(field="postcode", prefix="10"))
        "postcode starts with '10'"
    """

    field: str = attrs.field(validator=_field)
    prefix: str
    op: Literal["starts_with"] = "starts_with"


@attrs.frozen(kw_only=True)
class EventCount:
    """Event ``event_type`` happened at least ``at_least`` times in the last ``within_days``
    days, i.e. in (as_of − within_days, as_of].

    Examples:
        >>> describe(EventCount(event_type="add_to_cart", at_least=2, within_days=7))
        "event 'add_to_cart' >= 2 times in the last 7 days"
    """

    event_type: str
    within_days: float
    at_least: int = 1
    op: Literal["event_count"] = "event_count"

    def __attrs_post_init__(self) -> None:
        if self.within_days <= 0 or self.at_least < 0:
            raise InvalidInputError(
                f"EventCount: within_days must be > 0 and at_least >= 0 (got "
                f"{self.within_days}, {self.at_least})."
            )


@attrs.frozen(kw_only=True)
class InSegment:
    """Members of another named segment (a segment of segments), resolved at evaluation.

    Examples:
        >>> describe(InSegment(segment="vip"))
        "in segment 'vip'"
    """

    segment: str
    op: Literal["in_segment"] = "in_segment"


@attrs.frozen(kw_only=True)
class Term:
    """One weighted condition of a scoring plan.

    Examples:
        >>> Term(weight=2.0, condition=Exists(field="email")).weight
        2.0
    """

    weight: float
    condition: Condition


@attrs.frozen(kw_only=True)
class ScoringPlan:
    """A score per customer: the sum of the weights of the terms whose condition holds.

    Examples:
        >>> plan = ScoringPlan(terms=(Term(weight=1, condition=Exists(field="email")),))
        >>> len(plan.terms)
        1
    """

    terms: tuple[Term, ...]


@attrs.frozen(kw_only=True)
class ScoreAtLeast:
    """The customer's score under ``plan`` is at least ``threshold``.

    Examples:
        >>> plan = ScoringPlan(terms=(Term(weight=5, condition=Exists(field="email")),))
        >>> describe(ScoreAtLeast(plan=plan, threshold=5))
        'score >= 5 (1 terms)'
    """

    plan: ScoringPlan
    threshold: float
    op: Literal["score"] = "score"


Condition = Union[  # noqa: UP007 - a runtime union that cattrs structures by the ``op`` tag
    And,
    Or,
    Not,
    Compare,
    Between,
    In,
    Exists,
    Missing,
    Contains,
    StartsWith,
    EventCount,
    InSegment,
    ScoreAtLeast,
]


@attrs.frozen(kw_only=True)
class SegmentDefinition:
    """A named, stored segment: a condition plus a description (what a store keeps).

    Examples:
        >>> from crmkit.serialization import dumps, loads
        >>> d = SegmentDefinition(name="vip", condition=Compare(field="n_orders", cmp="ge",
        ...                       value=10))
        >>> loads(dumps(d), SegmentDefinition) == d
        True
    """

    name: str = attrs.field(validator=_field)
    condition: Condition
    description: str = ""


def _num(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def describe(condition: Condition) -> str:
    """A one-line reading of a node (children are not spelled out).

    Examples:
        >>> describe(Compare(field="n_orders", cmp="ge", value=2))
        'n_orders >= 2'
    """
    c = condition
    if isinstance(c, And):
        return f"all of ({len(c.all)})"
    if isinstance(c, Or):
        return f"any of ({len(c.any)})"
    if isinstance(c, Not):
        return "not"
    if isinstance(c, Compare):
        sym = _SYMBOL[c.cmp]
        if c.at is not None:
            return f"{c.field} {sym} {c.at.isoformat()}"
        if c.days_ago is not None:
            return f"{c.field} {sym} as_of - {_num(c.days_ago)} days"
        val = repr(c.value) if isinstance(c.value, str) else _num(c.value)  # type: ignore[arg-type]
        return f"{c.field} {sym} {val}"
    if isinstance(c, Between):
        return f"{_num(c.low)} <= {c.field} <= {_num(c.high)}"
    if isinstance(c, In):
        return f"{c.field} in {c.values!r}"
    if isinstance(c, Exists):
        return f"{c.field} exists"
    if isinstance(c, Missing):
        return f"{c.field} is missing"
    if isinstance(c, Contains):
        return f"{c.field} contains {c.text!r}"
    if isinstance(c, StartsWith):
        return f"{c.field} starts with {c.prefix!r}"
    if isinstance(c, EventCount):
        return (
            f"event {c.event_type!r} >= {c.at_least} times in the last {_num(c.within_days)} days"
        )
    if isinstance(c, InSegment):
        return f"in segment {c.segment!r}"
    return f"score >= {_num(c.threshold)} ({len(c.plan.terms)} terms)"
