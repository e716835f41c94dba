"""The demo's analytic steps: identity, CLV, segmentation, loyalty (one function each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from crmkit.cli._progress import Progress
from crmkit.cli._table import heading, table
from crmkit.columns import OrderColumns

if TYPE_CHECKING:
    from crmkit.cli._demo import DemoRun

__all__ = [
    "step_clv",
    "step_identity",
    "step_loyalty",
    "step_segmentation",
    "step_targeting",
]


def _rekey(orders: OrderColumns, entity_of: dict[str, str]) -> OrderColumns:
    """Orders with each record id replaced by its entity id (vectorized through np.unique)."""
    ids, inverse = np.unique(orders.customer_id, return_inverse=True)
    mapped = np.array([entity_of.get(str(i), str(i)) for i in ids], dtype=str)
    cols = orders.arrays()
    cols["customer_id"] = mapped[inverse]
    return OrderColumns(**cols)


def _pairwise(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the true one."""

    def pairs(labels: np.ndarray) -> float:
        _, counts = np.unique(labels, return_counts=True)
        return float((counts * (counts - 1) // 2).sum())

    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(predicted, return_inverse=True)
    both = t.astype(np.int64) * (p.max() + 1) + p
    true_pos = pairs(both)
    pred, real = pairs(p), pairs(t)
    return (true_pos / pred if pred else 1.0, true_pos / real if real else 1.0)


def step_identity(run: DemoRun) -> None:
    """Resolve source records into entities; re-key orders to entities; explain a few merges."""
    import crmkit.identity as ci

    records = run.store.source_records.columns()
    with Progress.task(f"resolving {len(records):,} source records"):
        res = ci.resolve(records)
    with Progress.task("saving the identity graph to the store"):
        saved = ci.save_graph(run.store, res.graph)
    run.entity_of_record = dict(zip(res.record_id.tolist(), res.entity_id.tolist(), strict=True))
    run.entity_orders = _rekey(run.store.orders.columns(), run.entity_of_record)
    run.say(heading("Identity: records → people"))
    rows: list[list[object]] = [
        ["source records", len(records)],
        ["entities", res.n_entities],
        ["accepted links", len(res.links)],
    ]
    audit = res.graph.audit
    rows.append(["blocked identifier values", len(audit.where(action="blocked"))])
    rows.append(["links refused by policy", len(audit.where(action="limit"))])
    if run.shop is not None:
        truth = run.shop.person_of(res.record_id)
        precision, recall = _pairwise(truth, res.entity_id)
        rows.append(["true persons", int(np.unique(truth).size)])
        rows.append(["pairwise precision vs truth", round(precision, 4)])
        rows.append(["pairwise recall vs truth", round(recall, 4)])
    run.say(table(["", "value"], rows))
    run.say(
        f"graph saved: {saved.entities_written:,} entities, {saved.audit_rows_written:,} audit "
        f"rows (revision {saved.revision}); reload it with crmkit.identity.load_graph(store)"
    )
    merges = audit.where(action="merge")
    if len(merges):
        run.say("\nWhy some records were merged:")
        for a, b in list(zip(merges.record_a.tolist(), merges.record_b.tolist(), strict=True))[:3]:
            run.say("  " + ci.explain(res.graph, str(a), str(b)).text())


def step_clv(run: DemoRun) -> None:
    """Fit BG/NBD and Gamma-Gamma on the people's orders; top customers by CLV; at-risk count."""
    from crmkit.clv import BetaGeo, GammaGamma, expected_clv, summary_from_orders

    orders = (run.entity_orders or run.store.orders.columns()).purchases()
    summary = summary_from_orders(orders, observation_end=run.as_of, period="D", unit="W")
    with Progress.task(f"fitting BG/NBD and Gamma-Gamma on {len(summary):,} customers"):
        bg = BetaGeo().fit(summary)
        gg = GammaGamma().fit(summary)
    spend = gg.conditional_expected_spend(summary)
    clv = expected_clv(bg, summary, spend=spend, horizon=52.0, discount_rate=0.01, step=4.0)
    p_alive = bg.p_alive(summary)
    run.p_alive, run.clv, run.clv_customer = p_alive, clv, summary.customer_id
    run.say(heading("Customer lifetime value (BG/NBD + Gamma-Gamma, weeks)"))
    run.say(
        f"BG/NBD r={bg.r:.3f} alpha={bg.alpha:.2f} a={bg.a:.3f} b={bg.b:.3f} "
        f"(LL {bg.log_likelihood:,.1f}); Gamma-Gamma p={gg.p:.2f} q={gg.q:.2f} "
        f"gamma={gg.gamma:.1f}"
    )
    top = np.argsort(-clv, kind="stable")[:5]
    run.say(
        table(
            ["customer", "purchases", "P(alive)", "CLV next 52 weeks"],
            [
                [
                    str(summary.customer_id[i]),
                    int(summary.frequency[i]) + 1,
                    round(float(p_alive[i]), 3),
                    f"{clv[i] / 100:,.2f} EUR",
                ]
                for i in top
            ],
        )
    )
    at_risk = (p_alive < 0.3) & (summary.frequency > 0)
    run.say(
        f"{int(at_risk.sum()):,} repeat customers are at risk (P(alive) < 0.3); "
        f"expected value of the base over 52 weeks: {clv.sum() / 100:,.2f} EUR"
    )


def step_segmentation(run: DemoRun) -> None:
    """RFM segments, lifecycle stages and one rule segment with its explanation."""
    from crmkit.features import customer_features
    from crmkit.segmentation import And, Compare, evaluate, lifecycle_stages, rfm_segments

    orders = run.entity_orders or run.store.orders.columns()
    buys = orders.purchases()
    rfm = rfm_segments(buys.customer_id, buys.placed_at, buys.total_minor, as_of=run.as_of)
    from crmkit._validation import from_datetime64
    from crmkit.segmentation import MembershipSnapshot, save_snapshot

    with Progress.task("saving the RFM snapshot to the store"):
        saved = save_snapshot(
            run.store,
            MembershipSnapshot(
                segment="rfm",
                as_of=from_datetime64(run.as_of),
                customer_ids=tuple(rfm.customer_id.tolist()),
                labels=tuple(rfm.segment.tolist()),
            ),
        )
    run.say(heading("Segments: RFM"))
    run.say(
        f"snapshot of {saved.size:,} customers saved as segment 'rfm' at {saved.as_of:%Y-%m-%d}"
    )
    counts = rfm.counts()
    run.say(table(["segment", "customers"], [[k, int(n)] for k, n in counts.items()]))
    feats = customer_features(orders, as_of=run.as_of)
    stages, n = np.unique(lifecycle_stages(feats), return_counts=True)
    run.say(heading("Lifecycle stages"))
    run.say(
        table(["stage", "customers"], [[str(s), int(c)] for s, c in zip(stages, n, strict=True)])
    )
    rule = And(
        all=(
            Compare(field="n_orders", cmp="ge", value=3),
            Compare(field="recency_days", cmp="gt", value=90),
        )
    )
    ev = evaluate(rule, feats)
    run.say(heading("Rule segment: 3+ orders, no purchase for 90 days"))
    run.say(f"{ev.count:,} members")
    members = ev.member_ids()
    if len(members):
        run.say(str(ev.explain(customer_id=str(members[0]))))


def step_loyalty(run: DemoRun) -> None:
    """Points earned on every order, tiers by spend in the calendar year, points liability."""
    import crmkit.loyalty as loyalty

    orders = (run.entity_orders or run.store.orders.columns()).purchases()
    clock = loyalty.ProgramClock(timezone="Europe/Berlin")
    ids, codes = loyalty.member_codes(orders.customer_id)
    rule = loyalty.EarnRule(rounding="floor")
    expiry = loyalty.ExpiryRule(mode="after_days", days=365)
    with Progress.task(f"earning points and evaluating tiers for {ids.size:,} members"):
        earned = loyalty.earn_points(rule, orders, codes=codes, clock=clock, expiry=expiry)
        policy = loyalty.TierPolicy(
            tiers=[
                loyalty.Tier(name="Member", threshold=0),
                loyalty.Tier(name="Silver", threshold=20_000),
                loyalty.Tier(name="Gold", threshold=60_000),
            ],
            window="calendar_year",
            downgrade="period_end",
            clock=clock,
        )
        first = np.full(ids.size, run.as_of)
        np.minimum.at(first, codes, orders.placed_at)
        status = loyalty.evaluate_tiers(
            policy,
            loyalty.TierState.start(first),
            run.as_of,
            codes=codes,
            at=orders.placed_at,
            values=orders.total_minor,
        )
    expires = earned.expires_at
    if expires is None:  # a program whose points never expire
        live, soon = np.ones(len(earned.points), bool), np.zeros(len(earned.points), bool)
    else:
        live = expires > run.as_of
        soon = live & (expires <= run.as_of + np.timedelta64(30, "D"))
    run.say(heading("Loyalty: tiers and points"))
    dist = status.distribution(policy)
    run.say(table(["tier", "members"], [[str(k), int(v)] for k, v in dist.items()]))
    run.say(
        f"outstanding points liability: {int(earned.points[live].sum()):,} points; "
        f"expiring in the next 30 days: {int(earned.points[soon].sum()):,} points"
    )


def step_targeting(run: DemoRun) -> None:
    """A win-back campaign end to end: triggers, eligibility, holdout, budget selection."""
    from crmkit.columns import ConsentColumns, ContactColumns
    from crmkit.targeting import (
        Eligibility,
        FrequencyCap,
        assign_holdout,
        expected_incremental_value,
        select_offers,
        win_back,
    )

    orders = run.entity_orders or run.store.orders.columns()
    consents = run.store.consents.columns()
    if run.entity_of_record:
        cols = consents.arrays()
        ids, inverse = np.unique(cols["customer_id"], return_inverse=True)
        cols["customer_id"] = np.array(
            [run.entity_of_record.get(str(i), str(i)) for i in ids], dtype=str
        )[inverse]
        consents = ConsentColumns(**cols)
    lapsing = win_back(
        orders,
        now=run.as_of,
        customer_id=run.clv_customer,
        p_alive=run.p_alive,
        p_alive_threshold=0.3,
    )
    rules = Eligibility(
        channel="email",
        cooldown_hours=72,
        caps=[FrequencyCap(max_contacts=1, window_hours=7 * 24)],
    )
    elig = rules.evaluate(
        lapsing.customer_id,
        send_at=run.as_of,
        consents=consents,
        orders=orders,
        contacts=ContactColumns.empty(),
    )
    hold = assign_holdout(elig.customer_id[elig.eligible], salt=f"demo-winback-{run.seed}")
    treat = hold.members("treatment")
    # Value of a contact: an assumed 5 % uplift on the customer's CLV, minus contact and voucher.
    clv_by_customer: dict[str, float] = {}
    if run.clv_customer is not None and run.clv is not None:
        clv_by_customer = dict(zip(run.clv_customer.tolist(), run.clv.tolist(), strict=True))
    clv_eur = np.array([clv_by_customer.get(str(c), 0.0) / 100 for c in treat])
    value = expected_incremental_value(
        np.full(treat.size, 0.05), clv_eur, contact_cost=0.10, incentive_cost=2.0
    )
    budget = 2.10 * max(treat.size // 2, 1)
    sel = select_offers(value, cost=2.10, budget=budget, customer_id=treat, method="greedy")
    from crmkit._validation import from_datetime64
    from crmkit.targeting import log_contacts, save_audience, save_holdout

    send_at = from_datetime64(run.as_of)
    campaign = f"winback-{send_at:%Y-%m}"
    with Progress.task("saving the audience, holdout and contacts"), run.store.transaction():
        save_audience(
            run.store,
            audience_id=campaign,
            campaign_id=campaign,
            rules=rules,
            result=elig,
            send_at=send_at,
        )
        save_holdout(run.store, campaign, hold, at=send_at)
        sent = treat[sel.selected]
        log_contacts(run.store, campaign_id=campaign, customer_id=sent, channel="email", at=send_at)
    run.say(heading("Targeting: a win-back campaign by e-mail"))
    counts = elig.counts()
    rows: list[list[object]] = [["lapsing customers (trigger)", len(lapsing)]]
    rows += [[f"  excluded: {k}", int(n)] for k, n in counts.items() if k != "eligible" and n]
    rows += [
        ["eligible", int(counts.get("eligible", 0))],
        *[[f"  holdout group {k}", int(n)] for k, n in hold.counts().items()],
        ["selected within budget", int(sel.selected.sum())],
    ]
    run.say(table(["", "customers"], rows))
    run.say(
        f"budget {budget:,.2f} EUR, spent {sel.spend:,.2f}; expected incremental value "
        f"{sel.objective:,.2f} EUR ({sel.method}, optimality gap {sel.gap:.2e}); "
        f"sample-ratio check p = {hold.check().p_value:.3f}"
    )
    _evaluate_simulated_send(run, hold.customer_id, hold.group, dict(hold.fractions))


def _evaluate_simulated_send(
    run: DemoRun,
    customer_id: np.ndarray,
    group: np.ndarray,
    hold_fractions: dict[str, float],
) -> None:
    """Analyse the campaign on simulated responses whose true effect is known (+3 points)."""
    from crmkit.experiments import analyze_experiment

    if customer_id.size < 2 or np.unique(group).size < 2:
        return
    rng = np.random.default_rng(run.seed)
    base = 0.04 + 0.10 * rng.random(customer_id.size)
    p = base + np.where(group == "treatment", 0.03, 0.0)
    converted = (rng.random(customer_id.size) < p).astype(np.int64)
    spend = np.where(converted == 1, rng.gamma(4.0, 12.0, customer_id.size), 0.0)
    res = analyze_experiment(
        group,
        control="control",
        converted=converted,
        value=spend,
        cost_per_contact=2.10,
        margin=0.4,
        expected_shares={g: float(f) for g, f in hold_fractions.items()},
    )
    run.say(heading("Evaluation: simulated responses (true uplift +3 points)"))
    run.say(res.summary())
