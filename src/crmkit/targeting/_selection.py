"""Choose at most one offer per customer to maximize expected value under budget and capacities.

The problem is a multiple-choice knapsack with side constraints:

    maximize    Σ v_ik x_ik
    subject to  Σ_k x_ik ≤ 1                       (one offer per customer)
                Σ c_ik x_ik ≤ B                    (budget)
                Σ_{k in channel h} x_ik ≤ cap_h    (channel capacity)
                min_s ≤ Σ_{i in segment s} x_ik ≤ max_s
                x_ik ∈ {0, 1}, x_ik = 0 where an offer is not available.

``method="exact"`` solves it with ``scipy.optimize.milp`` (HiGHS branch and bound).
``method="greedy"`` prices the shared constraints with Lagrange multipliers (coordinate-wise
clearing prices), lets every customer take its best priced offer, repairs the choice to
feasibility and fills what budget and capacity remain greedily by value per cost. The priced
problem also gives an upper bound (weak duality), so the optimality gap it reports is a proven
bound, not an estimate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse

from crmkit import _validation as v
from crmkit.errors import InvalidInputError

__all__ = ["Selection", "select_offers"]

log = logging.getLogger("crmkit.targeting")

_F = npt.NDArray[np.float64]
_I = npt.NDArray[np.int64]


@attrs.frozen(kw_only=True, eq=False)
class Selection:
    """The chosen offer per customer (``option`` −1 for none) and how good the choice is.

    ``customer_id`` holds the ids given, or the positions 0..n−1 when none were given.
    ``upper_bound`` bounds the optimum from above (the MILP dual bound, or the Lagrangian bound of
    the greedy path); ``gap = (upper_bound − objective) / |upper_bound|``. ``status`` is
    ``"optimal"``, ``"feasible"`` (a gap remains) or ``"segment_min_unmet"`` (the greedy path found
    no way to meet a segment minimum).

    Examples:
        >>> s = select_offers([5.0, 3.0, -1.0], cost=[2.0, 2.0, 1.0], budget=3.0)
        >>> s.option.tolist(), s.objective, s.spend
        ([0, -1, -1], 5.0, 2.0)
    """

    customer_id: npt.NDArray[Any] = attrs.field(converter=v.frozen)
    option: _I = attrs.field(converter=v.frozen)
    value: _F = attrs.field(converter=v.frozen)
    cost: _F = attrs.field(converter=v.frozen)
    objective: float
    spend: float
    upper_bound: float
    method: str
    status: str
    channel_counts: Mapping[str, int]
    segment_counts: Mapping[str, int]

    @property
    def selected(self) -> npt.NDArray[np.bool_]:
        """True for customers who receive an offer."""
        return v.frozen(self.option >= 0)

    @property
    def gap(self) -> float:
        """Relative optimality gap, ``(upper_bound − objective) / |upper_bound|`` (0 if both 0)."""
        denom = max(abs(self.upper_bound), 1e-12)
        return max(0.0, (self.upper_bound - self.objective) / denom)


@attrs.frozen(kw_only=True, eq=False)
class _Problem:
    value: _F  # (n, k), -inf where unavailable
    cost: _F  # (n, k)
    chan: _I  # (k,) channel index per option
    seg: _I  # (n,) segment index per customer
    budget: float
    cap: _F  # (n_channels,)
    seg_min: _F
    seg_max: _F
    channels: list[str]
    segments: list[str]


def _matrix(name: str, values: Any, shape: tuple[int, int] | None) -> _F:
    arr = np.asarray(values, dtype=np.float64) if not hasattr(values, "to_numpy") else None
    if arr is None:
        arr = np.asarray(values.to_numpy(), dtype=np.float64)
    if arr.ndim == 1:
        # length = customers: one value per customer; otherwise one value per offer
        per_offer = shape is not None and arr.size == shape[1] and arr.size != shape[0]
        arr = arr[None, :] if per_offer else arr[:, None]
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError as exc:
            raise InvalidInputError(
                f"{name}: shape {arr.shape} does not match the offers {shape}. Pass one value "
                "per customer and offer, per offer, or a scalar."
            ) from exc
    if arr.ndim != 2:
        raise InvalidInputError(f"{name}: expected a (customers, offers) array (got {arr.shape}).")
    flat = arr.reshape(-1)
    v.require(name, ~np.isfinite(flat), flat, "non-finite values", "Pass finite numbers.")
    return arr


def _labels(name: str, values: Any, n: int, default: str) -> tuple[_I, list[str]]:
    if values is None:
        return np.zeros(n, dtype=np.int64), [default]
    raw = v.as_1d(name, [values] * n if isinstance(values, str) else values)
    arr = raw if raw.dtype.kind in "iu" else v.as_str_array(name, raw)
    if arr.size != n:
        raise InvalidInputError(f"{name}: {arr.size} labels for {n} rows. Pass aligned labels.")
    names, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int64).reshape(-1), [str(x) for x in names.tolist()]


def _limits(name: str, given: Mapping[str, float] | None, names: list[str], fill: float) -> _F:
    given = dict(given or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInputError(f"{name}: unknown labels {unknown}. Known: {names}.")
    out = np.array([float(given.get(k, fill)) for k in names])
    v.require(name, out < 0, out, "negative limits", "Pass counts >= 0.")
    return out


def _problem(
    value: Any,
    cost: Any,
    available: Any,
    option_channel: Any,
    segment: Any,
    budget: float | None,
    channel_capacity: Mapping[str, float] | None,
    segment_min: Mapping[str, float] | None,
    segment_max: Mapping[str, float] | None,
) -> _Problem:
    val = _matrix("value", value, None)
    shape = (int(val.shape[0]), int(val.shape[1]))
    cst = _matrix("cost", cost, shape)
    flat = cst.reshape(-1)
    v.require("cost", flat < 0, flat, "negative costs", "Costs are spend; pass values >= 0.")
    val = np.array(val, dtype=np.float64)
    if available is not None:
        av = np.broadcast_to(np.asarray(available, dtype=bool).reshape(shape[0], -1), shape)
        val[~av] = -np.inf
    chan, channels = _labels("option_channel", option_channel, shape[1], "all")
    seg, segments = _labels("segment", segment, shape[0], "all")
    b = np.inf if budget is None else float(budget)
    if not b >= 0:
        raise InvalidInputError(f"budget: must be >= 0 (got {budget!r}).")
    return _Problem(
        value=val,
        cost=np.ascontiguousarray(cst),
        chan=chan,
        seg=seg,
        budget=b,
        cap=_limits("channel_capacity", channel_capacity, channels, np.inf),
        seg_min=_limits("segment_min", segment_min, segments, 0.0),
        seg_max=_limits("segment_max", segment_max, segments, np.inf),
        channels=channels,
        segments=segments,
    )


def _exact(p: _Problem, time_limit_s: float | None, mip_rel_gap: float) -> tuple[_I, float, str]:
    n = p.value.shape[0]
    need_neg = bool((p.seg_min > 0).any())
    keep = np.isfinite(p.value) & ((p.value > 0) | need_neg)
    rows, cols = np.nonzero(keep)
    m = rows.size
    if m == 0:
        return np.full(n, -1, dtype=np.int64), 0.0, "optimal"
    c = -p.value[rows, cols]
    blocks: list[sparse.csr_matrix] = []
    lo: list[_F] = []
    hi: list[_F] = []
    var = np.arange(m)
    blocks.append(sparse.csr_matrix((np.ones(m), (rows, var)), shape=(n, m)))
    lo.append(np.full(n, -np.inf))
    hi.append(np.ones(n))
    if np.isfinite(p.budget):
        blocks.append(sparse.csr_matrix(p.cost[rows, cols][None, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([p.budget]))
    nc = len(p.channels)
    blocks.append(sparse.csr_matrix((np.ones(m), (p.chan[cols], var)), shape=(nc, m)))
    lo.append(np.full(nc, -np.inf))
    hi.append(p.cap)
    ns = len(p.segments)
    blocks.append(sparse.csr_matrix((np.ones(m), (p.seg[rows], var)), shape=(ns, m)))
    lo.append(p.seg_min)
    hi.append(p.seg_max)
    a = sparse.vstack(blocks, format="csr")
    lb, ub = np.concatenate(lo), np.concatenate(hi)
    options: dict[str, Any] = {"mip_rel_gap": mip_rel_gap}
    if time_limit_s is not None:
        options["time_limit"] = time_limit_s
    res = optimize.milp(
        c,
        constraints=optimize.LinearConstraint(a, lb, ub),
        integrality=np.ones(m),
        bounds=optimize.Bounds(0, 1),
        options=options,
    )
    if res.x is None:
        raise InvalidInputError(
            f"constraints: no selection satisfies them ({res.message}). Check that segment "
            "minimums fit within the budget and the channel capacities."
        )
    chosen = np.round(res.x) > 0.5
    option = np.full(n, -1, dtype=np.int64)
    option[rows[chosen]] = cols[chosen]
    bound = -float(getattr(res, "mip_dual_bound", res.fun) or res.fun)
    status = "optimal" if res.status == 0 else "feasible"
    return option, bound, status


class _Cols:
    """The offers column by column ((offers, customers), contiguous): fast loops over few offers."""

    def __init__(self, p: _Problem) -> None:
        self.p = p
        self.value = np.ascontiguousarray(p.value.T)
        self.cost = np.ascontiguousarray(p.cost.T)
        self.k, self.n = self.value.shape

    def best(
        self,
        lam: float,
        mu: _F,
        nu: _F,
        cols: list[int] | None = None,
        *,
        want_cost: bool = False,
        want_arg: bool = False,
    ) -> tuple[_F, _I, _F]:
        """Best reduced profit per customer over ``cols`` (default: all), offer and cost if asked.

        The segment price is the same for every offer of a customer, so it is subtracted once.
        """
        cols = list(range(self.k)) if cols is None else cols
        if len(cols) == 1:  # one offer: no choice to track
            k = cols[0]
            r1 = self.value[k] - mu[self.p.chan[k]]
            if lam:
                r1 -= lam * self.cost[k]
            if nu.any():
                r1 -= nu[self.p.seg]
            return r1, np.full(self.n, k, dtype=np.int64), self.cost[k]
        # blends by arithmetic: a masked assignment with a random mask is ~5x slower
        best = np.full(self.n, -np.inf)
        arg = np.full(self.n, -1, dtype=np.int64)
        cost = np.zeros(self.n)
        r = np.empty(self.n)
        tmp = np.empty(self.n)
        for i, k in enumerate(cols):
            np.subtract(self.value[k], mu[self.p.chan[k]], out=r)
            if lam:
                np.multiply(self.cost[k], lam, out=tmp)
                np.subtract(r, tmp, out=r)
            if i == 0:
                best[:] = r
                arg[:] = k
                if want_cost:
                    cost[:] = self.cost[k]
                continue
            better = r > best
            np.maximum(best, r, out=best)
            if want_arg:
                arg += better * (k - arg)
            if want_cost:
                np.subtract(self.cost[k], cost, out=tmp)
                tmp *= better
                cost += tmp
        if nu.any():
            best -= nu[self.p.seg]
        return best, arg, cost


def _dual(p: _Problem, best: _F, lam: float, mu: _F, nu: _F) -> float:
    const = lam * p.budget if lam > 0 else 0.0
    pos = mu > 0
    const += float((mu[pos] * p.cap[pos]).sum())
    const += float(np.where(nu > 0, nu * np.where(nu > 0, p.seg_max, 0), nu * p.seg_min).sum())
    return float(np.maximum(best, 0.0).sum()) + const


def _kth_largest(x: _F, k: int) -> float:
    """The k-th largest value (1-based) of x, or -inf if x has fewer than k values."""
    if k > x.size or k <= 0:
        return -np.inf
    return float(np.partition(x, x.size - k)[x.size - k])


def _price_budget(cols: _Cols, mu: _F, nu: _F, steps: int, warm: float = 0.0) -> float:
    """The budget's clearing price given the other prices (``warm``: last round's price)."""
    p = cols.p
    if not np.isfinite(p.budget):
        return 0.0

    def spend(x: float) -> float:
        best, _, cost = cols.best(x, mu, nu, want_cost=True)
        return float(cost[best > 0].sum())

    best0, _, c0 = cols.best(0.0, mu, nu, want_cost=True)
    if float(c0[best0 > 0].sum()) <= p.budget:
        return 0.0
    ok = (best0 > 0) & (c0 > 0)
    ratio = best0[ok] / c0[ok]
    lo, hi = 0.0, float(ratio.max())
    if warm > 0 and cols.k > 1:
        guess, factor, steps = warm, 1.1, min(steps, 3)
    else:
        # the clearing ratio of each customer's best unpriced offer
        order = np.argsort(-ratio)
        cum = np.cumsum(c0[ok][order])
        i = int(np.searchsorted(cum, p.budget, side="right"))
        guess, factor = float(ratio[order][min(i, order.size - 1)]), 2.0
        if cols.k == 1:  # one offer each: the clearing ratio is the exact minimizer
            return guess
    if spend(guess) <= p.budget:
        hi = guess
        lo = guess / factor if spend(guess / factor) > p.budget else 0.0
    else:
        lo = guess
        hi = guess * factor if spend(guess * factor) <= p.budget else hi
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if spend(mid) <= p.budget:
            hi = mid
        else:
            lo = mid
    return hi


def _price_counts(cols: _Cols, lam: float, mu: _F, nu: _F) -> tuple[_F, _F]:
    p = cols.p
    mu = mu.copy()
    nu = nu.copy()
    for h in np.flatnonzero(np.isfinite(p.cap)).tolist():
        inside = [k for k in range(cols.k) if p.chan[k] == h]
        outside = [k for k in range(cols.k) if p.chan[k] != h]
        mu_h = mu.copy()
        mu_h[h] = 0.0
        a, _, _ = cols.best(lam, mu_h, nu, inside)
        b, _, _ = cols.best(lam, mu_h, nu, outside)
        d = a - np.maximum(b, 0.0)
        mu[h] = max(0.0, _kth_largest(d[np.isfinite(d)], int(p.cap[h]) + 1))
    limited = np.isfinite(p.seg_max) | (p.seg_min > 0)
    if limited.any():
        best, _, _ = cols.best(lam, mu, np.zeros_like(nu))
        for s in np.flatnonzero(limited).tolist():
            bs = best[p.seg == s]
            bs = bs[np.isfinite(bs)]
            price = 0.0
            if np.isfinite(p.seg_max[s]):
                price = max(0.0, _kth_largest(bs, int(p.seg_max[s]) + 1))
            if p.seg_min[s] > 0:
                kth = _kth_largest(bs, int(p.seg_min[s]))
                if np.isfinite(kth) and kth <= 0:
                    price = kth - 1e-9 * max(1.0, abs(kth))
            nu[s] = price
    return mu, nu


def _rank_in_group(group: _I, n_groups: int) -> _I:
    """Rank of each row within its group, in row order (rows already in priority order)."""
    if n_groups <= 32:
        rank = np.empty(group.size, dtype=np.int64)
        for g in range(n_groups):
            m = group == g
            rank[m] = np.arange(int(m.sum()))
        return rank
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(group.size) - np.repeat(starts, sizes)
    return rank


def _admit(
    p: _Problem, cust: _I, opt: _I, cost: _F, priority: _F, state: dict[str, Any]
) -> npt.NDArray[np.bool_]:
    """Admit candidates by priority within the remaining limits; update ``state``.

    Returns the admitted mask aligned with the (unsorted) input.
    """
    seg = p.seg[cust]
    ch = p.chan[opt]
    seg_n = np.bincount(seg, minlength=len(p.segments))
    ch_n = np.bincount(ch, minlength=len(p.channels))
    fits = (
        (seg_n <= state["seg_left"]).all()
        and (ch_n <= state["cap_left"]).all()
        and float(cost.sum()) <= state["budget_left"] + 1e-9
    )
    if fits:
        ok = np.ones(cust.size, dtype=bool)
    else:
        order = np.argsort(-priority, kind="stable")
        seg_o, ch_o, cost_o = seg[order], ch[order], cost[order]
        ok_o = _rank_in_group(seg_o, len(p.segments)) < state["seg_left"][seg_o]
        idx = np.flatnonzero(ok_o)
        rank_c = _rank_in_group(ch_o[idx], len(p.channels))
        ok_o[idx[rank_c >= state["cap_left"][ch_o[idx]]]] = False
        if np.isfinite(state["budget_left"]):
            idx = np.flatnonzero(ok_o)
            ok_o[idx[np.cumsum(cost_o[idx]) > state["budget_left"] + 1e-9]] = False
        ok = np.empty(cust.size, dtype=bool)
        ok[order] = ok_o
    state["budget_left"] -= float(cost[ok].sum())
    state["cap_left"] = state["cap_left"] - np.bincount(ch[ok], minlength=len(p.channels))
    state["seg_left"] = state["seg_left"] - np.bincount(seg[ok], minlength=len(p.segments))
    return ok


def _fill(cols: _Cols, option: _I, state: dict[str, Any]) -> None:
    """Give unselected customers their best value-per-cost offer while budget and room remain."""
    p = cols.p
    free = option < 0
    best_ratio = np.full(cols.n, -np.inf)
    best_k = np.full(cols.n, -1, dtype=np.int64)
    for k in range(cols.k):
        val, cst = cols.value[k], cols.cost[k]
        room = state["cap_left"][p.chan[k]] >= 1
        if not room:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cst > 0, val / cst, np.inf)
        ok = free & (val > 0) & (cst <= state["budget_left"] + 1e-9)
        ok &= state["seg_left"][p.seg] >= 1
        better = ok & (ratio > best_ratio)
        best_ratio[better] = ratio[better]
        best_k[better] = k
    cand = np.flatnonzero(best_k >= 0)
    if cand.size == 0:
        return
    opt = best_k[cand]
    cost = cols.cost[opt, cand]
    pos_cost = cost[cost > 0]
    if np.isfinite(state["budget_left"]) and pos_cost.size:
        # only the best few can fit: keep those before sorting
        m = int(min(cand.size, np.ceil(state["budget_left"] / pos_cost.min()) + 1))
        m += int((cost == 0).sum())
        if m < cand.size:
            top = np.argpartition(-best_ratio[cand], m)[:m]
            cand, opt, cost = cand[top], opt[top], cost[top]
    ok = _admit(p, cand, opt, cost, best_ratio[cand], state)
    option[cand[ok]] = opt[ok]


def _primal(cols: _Cols, lam: float, mu: _F, nu: _F) -> tuple[_I, bool]:
    p = cols.p
    option = np.full(cols.n, -1, dtype=np.int64)
    state: dict[str, Any] = {
        "budget_left": p.budget,
        "cap_left": p.cap.copy(),
        "seg_left": p.seg_max.copy(),
    }
    rb, j, _ = cols.best(lam, mu, nu, want_arg=True)
    take = np.flatnonzero(rb > 0)
    opt = j[take]
    ok = _admit(p, take, opt, cols.cost[opt, take], rb[take], state)
    option[take[ok]] = opt[ok]
    for _ in range(2):
        before = int((option >= 0).sum())
        _fill(cols, option, state)
        if int((option >= 0).sum()) == before:
            break
    met = True
    short = p.seg_min - np.bincount(p.seg[option >= 0], minlength=len(p.segments))
    for s in np.flatnonzero(short > 0).tolist():
        members = np.flatnonzero((p.seg == s) & (option < 0))
        sub = cols.value[:, members]
        kk = np.argmax(sub, axis=0)
        vv = sub[kk, np.arange(members.size)]
        keep = np.isfinite(vv)
        members, kk, vv = members[keep], kk[keep], vv[keep]
        state["seg_left"][s] = short[s]
        ok = _admit(p, members, kk, cols.cost[kk, members], vv, state)
        option[members[ok]] = kk[ok]
        met &= bool(ok.sum() >= short[s])
    return option, met


def _greedy(p: _Problem, rounds: int) -> tuple[_I, float, str]:
    cols = _Cols(p)
    lam = 0.0
    mu = np.zeros(len(p.channels))
    nu = np.zeros(len(p.segments))
    bound = np.inf
    for _ in range(rounds):
        lam = _price_budget(cols, mu, nu, steps=5, warm=lam)
        mu, nu = _price_counts(cols, lam, mu, nu)
        best, _, _ = cols.best(lam, mu, nu)
        bound = min(bound, _dual(p, best, lam, mu, nu))
    option, met = _primal(cols, lam, mu, nu)
    return option, bound, "feasible" if met else "segment_min_unmet"


def select_offers(
    value: Any,
    *,
    cost: Any = 0.0,
    available: Any = None,
    option_channel: Any = None,
    segment: Any = None,
    customer_id: Any = None,
    budget: float | None = None,
    channel_capacity: Mapping[str, float] | None = None,
    segment_min: Mapping[str, float] | None = None,
    segment_max: Mapping[str, float] | None = None,
    method: Literal["auto", "exact", "greedy"] = "auto",
    exact_max_customers: int = 20_000,
    time_limit_s: float | None = None,
    mip_rel_gap: float = 1e-6,
    rounds: int = 2,
) -> Selection:
    """Pick at most one offer per customer to maximize total value under the constraints.

    ``value`` is ``(customers,)`` for one offer or ``(customers, offers)``; ``cost`` broadcasts
    to it (per offer, per customer and offer, or a scalar). ``available`` masks offers a
    customer may not get (for example channels they are not eligible on). ``option_channel``
    labels each offer column with its channel; ``segment`` labels each customer. Limits are
    counts of customers (``channel_capacity``, ``segment_min``, ``segment_max``) and spend
    (``budget``). Offers with value ≤ 0 are never chosen unless a segment minimum needs them.

    ``method="auto"`` solves exactly with ``scipy.optimize.milp`` up to ``exact_max_customers``
    and takes the greedy path with a proven optimality gap above that.

    Examples:
        >>> import numpy as np
        >>> value = np.array([[4.0, 6.0], [3.0, 5.0], [2.0, 1.0]])
        >>> s = select_offers(value, cost=[1.0, 3.0], option_channel=["email", "sms"],
        ...                   budget=5.0, channel_capacity={"sms": 1})
        >>> s.option.tolist(), s.objective, s.status
        ([0, 1, 0], 11.0, 'optimal')
    """
    p = _problem(
        value, cost, available, option_channel, segment, budget,
        channel_capacity, segment_min, segment_max,
    )  # fmt: skip
    n = p.value.shape[0]
    ids: npt.NDArray[Any] = (
        np.arange(n) if customer_id is None else v.as_str_array("customer_id", customer_id)
    )
    if ids.size != n:
        raise InvalidInputError(f"customer_id: {ids.size} ids for {n} customers.")
    use_exact = method == "exact" or (method == "auto" and n <= exact_max_customers)
    if method not in ("auto", "exact", "greedy"):
        raise InvalidInputError(f"method: unknown {method!r}. Use 'auto', 'exact' or 'greedy'.")
    if use_exact:
        option, bound, status = _exact(p, time_limit_s, mip_rel_gap)
        name = "exact"
    else:
        option, bound, status = _greedy(p, rounds)
        name = "greedy"
    sel = option >= 0
    rows = np.flatnonzero(sel)
    val = np.zeros(n)
    cst = np.zeros(n)
    val[rows] = p.value[rows, option[rows]]
    cst[rows] = p.cost[rows, option[rows]]
    objective = float(val.sum())
    bound = max(bound, objective)
    if status == "feasible" and bound - objective <= 1e-9 * max(1.0, abs(bound)):
        status = "optimal"
    ch_counts = np.bincount(p.chan[option[rows]], minlength=len(p.channels))
    seg_counts = np.bincount(p.seg[rows], minlength=len(p.segments))
    result = Selection(
        customer_id=ids,
        option=option,
        value=val,
        cost=cst,
        objective=objective,
        spend=float(cst.sum()),
        upper_bound=float(bound),
        method=name,
        status=status,
        channel_counts=dict(zip(p.channels, ch_counts.tolist(), strict=True)),
        segment_counts=dict(zip(p.segments, seg_counts.tolist(), strict=True)),
    )
    log.debug(
        "selected %d of %d customers (%s): objective %.6g, bound %.6g",
        rows.size, n, name, objective, bound,
    )  # fmt: skip
    return result
