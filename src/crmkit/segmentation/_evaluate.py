"""Evaluating conditions over every customer at once, and explaining each membership."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.errors import InvalidInputError
from crmkit.features import CustomerFeatures
from crmkit.segmentation._conditions import (
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
    describe,
)
from crmkit.serialization import dumps, loads

__all__ = [
    "Evaluation",
    "Explanation",
    "condition_from_json",
    "condition_to_json",
    "evaluate",
    "score",
]

Bools = npt.NDArray[np.bool_]
_US = np.timedelta64(1, "us")


def condition_to_json(condition: Condition) -> str:
    """JSON text of a condition tree (through crmkit's converter; keys sorted).

    Examples:
        >>> condition_to_json(Exists(field="email"))
        '{"field": "email", "op": "exists"}'
    """
    return dumps(condition)


def condition_from_json(text: str | bytes) -> Condition:
    """A condition tree back from JSON; every bad field is reported by path.

    Examples:
        >>> condition_from_json('{"field": "email", "op": "exists"}')
        Exists(field='email', op='exists')
    """
    return loads(text, Condition)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True, eq=False)
class _Context:
    columns: Mapping[str, np.ndarray[Any, Any]]
    customer_id: np.ndarray[Any, Any] | None
    n: int
    as_of: np.datetime64 | None
    events: Mapping[str, np.ndarray[Any, Any]] | None
    segments: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class _Node:
    path: str
    depth: int
    text: str
    held: Bools


@attrs.frozen(kw_only=True)
class Explanation:
    """Why one customer is (or is not) a member: every node of the tree and whether it held.

    ``str(explanation)`` renders the tree with ``[x]`` for a node that held and ``[ ]`` otherwise.

    Examples:
        >>> ev = evaluate(Compare(field="n", cmp="gt", value=1), {"n": [0, 3]})
        >>> print(ev.explain(1))
        [x] n > 1
    """

    index: int
    member: bool
    lines: tuple[tuple[str, int, str, bool], ...]

    def __str__(self) -> str:
        return "\n".join(
            f"{'  ' * depth}[{'x' if held else ' '}] {text}" for _, depth, text, held in self.lines
        )

    def held(self) -> dict[str, bool]:
        """Node path (``"0"``, ``"0.1"``, ...) → whether it held for this customer."""
        return {path: held for path, _, _, held in self.lines}


@attrs.frozen(kw_only=True, eq=False)
class Evaluation:
    """Membership of every customer, with the result of every node kept for explanations.

    Examples:
        >>> ev = evaluate(In(field="c", values=("DE",)), {"c": ["DE", "FR"]})
        >>> ev.members.tolist(), int(ev.count)
        ([True, False], 1)
    """

    members: Bools
    customer_id: np.ndarray[Any, Any] | None
    nodes: tuple[_Node, ...]

    @property
    def count(self) -> int:
        """Number of members."""
        return int(self.members.sum())

    def member_ids(self) -> np.ndarray[Any, Any]:
        """Ids of the members (needs a table with ``customer_id``)."""
        if self.customer_id is None:
            raise InvalidInputError("customer_id: the table had no ids. Pass a customer_id column.")
        return self.customer_id[self.members]

    def node_results(self) -> dict[str, Bools]:
        """Node path → boolean array over customers (what each sub-condition gave)."""
        return {node.path: node.held for node in self.nodes}

    def explain(self, index: int | None = None, *, customer_id: Any = None) -> Explanation:
        """The explanation for the customer at row ``index`` (or with ``customer_id``)."""
        if customer_id is not None:
            if self.customer_id is None:
                raise InvalidInputError("customer_id: the table had no ids; pass index=.")
            hit = np.flatnonzero(self.customer_id == customer_id)
            if hit.size == 0:
                raise InvalidInputError(f"customer_id: unknown customer {customer_id!r}.")
            index = int(hit[0])
        if index is None:
            raise InvalidInputError("index: pass a row index or customer_id=.")
        lines = tuple(
            (node.path, node.depth, node.text, bool(node.held[index])) for node in self.nodes
        )
        return Explanation(index=index, member=bool(self.members[index]), lines=lines)


def _table(table: Any) -> tuple[dict[str, np.ndarray[Any, Any]], Any, int, Any]:
    if isinstance(table, CustomerFeatures):
        return dict(table.columns), table.customer_id, len(table), table.as_of
    if not isinstance(table, Mapping):
        raise InvalidInputError(
            "table: expected CustomerFeatures or a mapping of columns "
            f"(got {type(table).__name__})."
        )
    cols = {str(k): v.as_1d(str(k), a) for k, a in table.items()}
    sizes = {k: a.size for k, a in cols.items()}
    if len(set(sizes.values())) > 1:
        raise InvalidInputError(f"table: columns of different lengths ({sizes}). Align them.")
    ids = cols.pop("customer_id", None)
    n = next(iter(sizes.values()), 0)
    return cols, ids, n, None


def _events(events: Any) -> dict[str, np.ndarray[Any, Any]] | None:
    if events is None:
        return None
    if hasattr(events, "arrays"):
        events = events.arrays()
    out = {
        "customer_id": v.as_1d("events.customer_id", events["customer_id"]),
        "type": v.as_str_array("events.type", events["type"], allow_empty=True),
        "at": v.as_datetime_array("events.at", events["at"]),
    }
    v.same_length(**out)
    return out


def evaluate(
    condition: Condition,
    table: Any,
    *,
    events: Any = None,
    as_of: Any = None,
    segments: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate a condition over every customer at once.

    Args:
        condition: the tree.
        table: a [`CustomerFeatures`][crmkit.features.CustomerFeatures] or a mapping of aligned
            columns (with ``customer_id`` when events are used).
        events: for ``EventCount``: an ``EventColumns`` or a mapping with ``customer_id``,
            ``type`` and ``at``.
        as_of: the reference date of relative conditions (default: the table's).
        segments: for ``InSegment``: name → Condition or boolean membership array.

    Examples:
        >>> cond = And(all=(Compare(field="n", cmp="ge", value=2),
        ...                 Not(condition=Missing(field="e"))))
        >>> evaluate(cond, {"n": [1, 2, 3], "e": ["a@x", "", "b@y"]}).members.tolist()
        [False, False, True]
    """
    cols, ids, n, table_as_of = _table(table)
    ref = table_as_of if as_of is None else v.to_datetime64("as_of", as_of)
    ctx = _Context(
        columns=cols,
        customer_id=ids,
        n=n,
        as_of=ref,
        events=_events(events),
        segments=dict(segments or {}),
    )
    nodes: list[_Node] = []
    members = _eval(condition, ctx, "0", 0, nodes, ())
    return Evaluation(members=v.frozen(members), customer_id=ids, nodes=tuple(nodes))


def score(
    plan: ScoringPlan,
    table: Any,
    *,
    events: Any = None,
    as_of: Any = None,
    segments: Mapping[str, Any] | None = None,
) -> npt.NDArray[np.float64]:
    """Each customer's score under a scoring plan (sum of the weights of the terms that hold).

    Examples:
        >>> from crmkit.segmentation import Term
        >>> plan = ScoringPlan(terms=(
        ...     Term(weight=2, condition=Compare(field="n", cmp="ge", value=2)),
        ...     Term(weight=1, condition=Exists(field="e"))))
        >>> score(plan, {"n": [1, 5], "e": ["x", ""]}).tolist()
        [1.0, 2.0]
    """
    total = None
    for term in plan.terms:
        held = evaluate(term.condition, table, events=events, as_of=as_of, segments=segments)
        part = term.weight * held.members.astype(np.float64)
        total = part if total is None else total + part
    if total is None:
        return np.zeros(_table(table)[2], dtype=np.float64)
    return total


def _missing(arr: np.ndarray[Any, Any]) -> Bools:
    kind = arr.dtype.kind
    out: Bools
    if kind == "f":
        out = np.isnan(arr)
    elif kind in "mM":
        out = np.isnat(arr)
    elif kind == "U":
        out = arr == ""
    elif kind == "O":
        out = np.fromiter((x is None or x == "" for x in arr), dtype=bool, count=arr.size)
    else:
        out = np.zeros(arr.size, dtype=bool)
    return out


def _column(ctx: _Context, name: str) -> np.ndarray[Any, Any]:
    if name in ctx.columns:
        return ctx.columns[name]
    if name == "customer_id" and ctx.customer_id is not None:
        return ctx.customer_id
    raise InvalidInputError(
        f"field: unknown column {name!r}. Known: {', '.join(sorted(ctx.columns))}."
    )


def _need_as_of(ctx: _Context, what: str) -> np.datetime64:
    if ctx.as_of is None:
        raise InvalidInputError(f"as_of: {what} is relative to a date. Pass as_of=.")
    return ctx.as_of


def _compare(c: Compare, ctx: _Context) -> Bools:
    col = _column(ctx, c.field)
    kind = col.dtype.kind
    if c.at is not None or c.days_ago is not None:
        if kind != "M":
            raise InvalidInputError(
                f"Compare({c.field}): at/days_ago need a time column (dtype {col.dtype})."
            )
        if c.at is not None:
            rhs: Any = v.to_datetime64("at", c.at)
        else:
            days = float(c.days_ago)  # type: ignore[arg-type]
            delta = round(days * 86_400_000_000) * _US
            rhs = _need_as_of(ctx, f"Compare({c.field}, days_ago)") - delta
        lhs = col.astype("datetime64[us]")
    else:
        val = c.value
        if kind in "iuf":
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise InvalidInputError(
                    f"Compare({c.field}): number column, value {val!r} is not a number."
                )
        elif kind == "b":
            if not isinstance(val, bool) or c.cmp not in ("eq", "ne"):
                raise InvalidInputError(
                    f"Compare({c.field}): boolean column takes True/False with eq or ne."
                )
        elif kind in "UO":
            if not isinstance(val, str):
                raise InvalidInputError(
                    f"Compare({c.field}): text column, value {val!r} is not text."
                )
        else:
            raise InvalidInputError(
                f"Compare({c.field}): a {col.dtype} column needs at= or days_ago=."
            )
        lhs, rhs = col, val
    with np.errstate(invalid="ignore"):
        out: Bools = getattr(
            np,
            {
                "eq": "equal",
                "ne": "not_equal",
                "lt": "less",
                "le": "less_equal",
                "gt": "greater",
                "ge": "greater_equal",
            }[c.cmp],
        )(lhs, rhs)
    return np.asarray(out, dtype=bool) & ~_missing(col)


def _text(col: np.ndarray[Any, Any], field: str) -> npt.NDArray[np.str_]:
    if col.dtype.kind not in "UO":
        raise InvalidInputError(f"{field}: a text condition on a {col.dtype} column.")
    return col if col.dtype.kind == "U" else np.where(_missing(col), "", col).astype(str)


def _event_count(c: EventCount, ctx: _Context) -> Bools:
    if ctx.events is None:
        raise InvalidInputError("events: EventCount needs events=. Pass the event columns.")
    if ctx.customer_id is None:
        raise InvalidInputError("table: EventCount needs a customer_id column.")
    ref = _need_as_of(ctx, "EventCount")
    ev = ctx.events
    lo = ref - round(c.within_days * 86_400_000_000) * _US
    at = ev["at"].view(np.int64)
    lo_us, ref_us = int(lo.astype(np.int64)), int(ref.astype(np.int64))
    inside = np.flatnonzero((at > lo_us) & (at <= ref_us))
    sel = inside[ev["type"][inside] == c.event_type]
    # Sorted needles make the binary searches cache-friendly; only counts are needed.
    who = np.sort(ev["customer_id"][sel])
    ids = ctx.customer_id
    if ids.size < 2 or bool(np.all(ids[1:] > ids[:-1])):
        order, sorted_ids = np.arange(ids.size), ids
    else:
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
    pos = np.searchsorted(sorted_ids, who)
    pos_c = np.minimum(pos, max(ctx.n - 1, 0))
    known = (pos < ctx.n) & (sorted_ids[pos_c] == who) if ctx.n else np.zeros(0, dtype=bool)
    counts = np.bincount(order[pos_c[known]], minlength=ctx.n)
    return counts >= c.at_least


def _eval(
    c: Condition, ctx: _Context, path: str, depth: int, nodes: list[_Node], stack: tuple[str, ...]
) -> Bools:
    slot = len(nodes)
    nodes.append(_Node(path=path, depth=depth, text=describe(c), held=np.zeros(0, dtype=bool)))
    out: Bools
    if isinstance(c, And):
        out = np.ones(ctx.n, dtype=bool)
        for i, sub in enumerate(c.all):
            out = out & _eval(sub, ctx, f"{path}.{i}", depth + 1, nodes, stack)
    elif isinstance(c, Or):
        out = np.zeros(ctx.n, dtype=bool)
        for i, sub in enumerate(c.any):
            out = out | _eval(sub, ctx, f"{path}.{i}", depth + 1, nodes, stack)
    elif isinstance(c, Not):
        out = ~_eval(c.condition, ctx, f"{path}.0", depth + 1, nodes, stack)
    elif isinstance(c, Compare):
        out = _compare(c, ctx)
    elif isinstance(c, Between):
        col = _column(ctx, c.field)
        if col.dtype.kind not in "iuf":
            raise InvalidInputError(f"Between({c.field}): needs a number column ({col.dtype}).")
        with np.errstate(invalid="ignore"):
            out = (col >= c.low) & (col <= c.high)
    elif isinstance(c, In):
        col = _column(ctx, c.field)
        out = np.isin(col, np.asarray(c.values)) & ~_missing(col)
    elif isinstance(c, Exists):
        out = ~_missing(_column(ctx, c.field))
    elif isinstance(c, Missing):
        out = _missing(_column(ctx, c.field))
    elif isinstance(c, Contains):
        col = _text(_column(ctx, c.field), c.field)
        if c.case_sensitive:
            out = np.char.find(col, c.text) >= 0
        else:
            out = np.char.find(np.char.lower(col), c.text.lower()) >= 0
        out &= ~_missing(col)
    elif isinstance(c, StartsWith):
        col = _text(_column(ctx, c.field), c.field)
        out = np.char.startswith(col, c.prefix) & ~_missing(col)
    elif isinstance(c, EventCount):
        out = _event_count(c, ctx)
    elif isinstance(c, InSegment):
        out = _segment(c, ctx, path, depth, nodes, stack)
    elif isinstance(c, ScoreAtLeast):
        total = np.zeros(ctx.n, dtype=np.float64)
        for i, term in enumerate(c.plan.terms):
            held = _eval(term.condition, ctx, f"{path}.{i}", depth + 1, nodes, stack)
            total += term.weight * held
        out = total >= c.threshold
    else:  # pragma: no cover - the union is closed
        raise InvalidInputError(f"condition: unknown node {type(c).__name__}.")
    out = np.asarray(out, dtype=bool)
    nodes[slot] = attrs.evolve(nodes[slot], held=out)
    return out


def _segment(
    c: InSegment, ctx: _Context, path: str, depth: int, nodes: list[_Node], stack: tuple[str, ...]
) -> Bools:
    if c.segment not in ctx.segments:
        raise InvalidInputError(
            f"segments: {c.segment!r} is not given. Pass segments={{name: condition}}."
        )
    if c.segment in stack:
        raise InvalidInputError(
            f"segments: {c.segment!r} refers to itself ({' -> '.join((*stack, c.segment))})."
        )
    ref = ctx.segments[c.segment]
    if isinstance(ref, np.ndarray | list | tuple):
        arr = np.asarray(ref, dtype=bool)
        if arr.size != ctx.n:
            raise InvalidInputError(
                f"segments[{c.segment!r}]: {arr.size} memberships for {ctx.n} customers."
            )
        return arr
    return _eval(ref, ctx, f"{path}.0", depth + 1, nodes, (*stack, c.segment))
