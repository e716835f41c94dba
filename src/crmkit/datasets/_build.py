"""``synthetic_shop``: draw persons, purchases, records, orders, events and consents, vectorized."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from crmkit import _validation as v
from crmkit.columns import (
    Columns,
    ConsentColumns,
    EventColumns,
    OrderColumns,
    OrderLineColumns,
    ReturnColumns,
    SourceRecordColumns,
)
from crmkit.datasets._activity import CHANNELS, EVENT_TYPES, draft_consents, draft_events
from crmkit.datasets._catalog import Catalog, make_catalog
from crmkit.datasets._commerce import (
    GUEST,
    LOYALTY_CARD,
    MARKETPLACE_ACCOUNT,
    ORDER_CHANNELS,
    STATUSES,
    WEB_ACCOUNT,
    OrderDraft,
    assign_channels,
    draft_orders,
    draft_returns,
)
from crmkit.datasets._config import (
    BetaGeoParams,
    GammaGammaParams,
    ShopBehaviour,
    ShopNoise,
    ShopTaste,
)
from crmkit.datasets._people import draw_people
from crmkit.datasets._process import draw_purchases
from crmkit.datasets._records import (
    CHECKOUT,
    LOYALTY,
    MARKETPLACE,
    SOURCES,
    SUPPORT,
    WEB,
    write_records,
)
from crmkit.datasets._shop import SyntheticShop
from crmkit.datasets._strings import digits, tight
from crmkit.datasets._taste import draw_taste, replenishment_rows
from crmkit.datasets._truth import ShopTruth
from crmkit.errors import InvalidInputError
from crmkit.model import MINOR_UNITS

__all__ = ["synthetic_shop"]

_log = logging.getLogger("crmkit.datasets")

Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]

_DAY_US = 86_400_000_000
_KEY_PREFIX = ("w", "g", "lc", "t", "mb")


def _width(n: int) -> int:
    return max(len(str(max(n, 1))), 1)


def _times(start_us: int, day: Flt) -> npt.NDArray[np.datetime64]:
    us = start_us + np.rint(day * _DAY_US).astype(np.int64)
    return us.astype("datetime64[us]")


def _ids(prefix: str, n: int) -> npt.NDArray[np.str_]:
    return digits(np.arange(1, n + 1), _width(n), prefix)


C = TypeVar("C", bound=Columns)


def _table(cls: type[C], **columns: np.ndarray[Any, Any]) -> C:
    """A column table from freshly built arrays, marked read-only first so none is copied."""
    return cls(**{k: v.frozen(np.ascontiguousarray(a)) for k, a in columns.items()})


def _check(n_customers: int, currency: str, n_products: int) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise InvalidInputError(f"n_customers: expected an int (got {n_customers!r}).")
    if n_customers < 1:
        raise InvalidInputError(
            f"n_customers: must be >= 1 (got {n_customers}). Ask for at least one customer."
        )
    if currency not in MINOR_UNITS:
        raise InvalidInputError(
            f"currency: {currency!r} is not an ISO 4217 code crmkit knows. Use e.g. 'EUR'."
        )
    if isinstance(n_products, bool) or not isinstance(n_products, int) or n_products < 1:
        raise InvalidInputError(f"n_products: expected an int >= 1 (got {n_products!r}).")


class _Clock:
    """Logs the CPU time of each step at DEBUG level."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.last = time.process_time()

    def lap(self, step: str) -> None:
        now = time.process_time()
        _log.debug("synthetic_shop(%d): %s in %.2f s CPU", self.n, step, now - self.last)
        self.last = now


class _RecordDraft:
    """Records before their fields are written: person, source, day, final position, key."""

    def __init__(self, parts: list[tuple[int, Int, Flt]]) -> None:
        self.person = np.concatenate([p for _, p, _ in parts])
        self.source = np.concatenate([np.full(p.size, s, dtype=np.int64) for s, p, _ in parts])
        self.day = np.concatenate([d for _, _, d in parts])
        self.offsets = np.cumsum([0] + [p.size for _, p, _ in parts])
        order = np.lexsort((self.source, self.day))
        self.position = np.empty(order.size, dtype=np.int64)
        self.position[order] = np.arange(order.size)
        self.person, self.source, self.day = self.person[order], self.source[order], self.day[order]
        counts = [int((self.source == s).sum()) for s in range(len(SOURCES))]
        key_width = [len(p) + _width(c) for p, c in zip(_KEY_PREFIX, counts, strict=True)]
        id_width = [len(src) + 1 + w for src, w in zip(SOURCES, key_width, strict=True)]
        self.key = np.empty(order.size, dtype=f"U{max(key_width)}")
        self.record_id = np.empty(order.size, dtype=f"U{max(id_width)}")
        for s, prefix in enumerate(_KEY_PREFIX):
            sel = np.flatnonzero(self.source == s)
            number = np.arange(1, sel.size + 1)
            self.key[sel] = digits(number, _width(sel.size), prefix)
            self.record_id[sel] = digits(number, _width(sel.size), f"{SOURCES[s]}:{prefix}")

    def positions(self, part: int) -> Int:
        """Final positions of the records of one part, in the part's order."""
        out: Int = self.position[self.offsets[part] : self.offsets[part + 1]]
        return out


def synthetic_shop(
    n_customers: int = 1000,
    *,
    rng: np.random.Generator | int | None = None,
    start: dt.datetime = dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    end: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    currency: str = "EUR",
    bgnbd: BetaGeoParams | None = None,
    spend: GammaGammaParams | None = None,
    noise: ShopNoise | None = None,
    behaviour: ShopBehaviour | None = None,
    taste: ShopTaste | None = None,
    n_products: int = 200,
) -> SyntheticShop:
    """A deterministic synthetic shop of ``n_customers`` persons with its ground truth.

    Persons are acquired uniformly over ``[start, end)`` with a first purchase; repeat purchases
    follow the BG/NBD process ``bgnbd`` (days) and spend per order the Gamma-Gamma model
    ``spend`` (major units of ``currency``). Each person shows up in source records from several
    channels (``web``, ``checkout``, ``loyalty``, ``support``, ``marketplace``) with the noise in
    ``noise``; orders are keyed to the record that placed them. Same arguments and same integer
    ``rng`` give bit-identical tables.

    Args:
        n_customers: the number of persons (every one makes at least one purchase).
        rng: a numpy Generator, an int seed or None (fresh entropy).
        start: start of the observation window (timezone-aware).
        end: end of the observation window (timezone-aware, after ``start``).
        currency: ISO 4217 code of every amount.
        bgnbd: purchase process; defaults to ``BetaGeoParams()``.
        spend: spend process; defaults to ``GammaGammaParams()``.
        noise: noise rates; defaults to ``ShopNoise()``.
        behaviour: channel use, cancellations, returns, events, consents; ``ShopBehaviour()``.
        taste: taste clusters, product affinities and consumables; ``ShopTaste()``.
        n_products: size of the product catalog.

    Examples:
        >>> from crmkit.datasets import synthetic_shop
        >>> shop = synthetic_shop(200, rng=42)
        >>> shop.truth.n_persons, sorted(set(shop.records.source.tolist()))
        (200, ['checkout', 'loyalty', 'marketplace', 'support', 'web'])
        >>> o = shop.orders
        >>> bool((o.total_minor > 0).all()) and o.single_currency() == "EUR"
        True
    """
    _check(n_customers, currency, n_products)
    n = int(n_customers)
    start64 = v.to_datetime64("start", start)
    end64 = v.to_datetime64("end", end)
    if end64 <= start64:
        raise InvalidInputError(
            f"end: must be after start (start {start.isoformat()}, end {end.isoformat()}). "
            "Pass a window of positive length."
        )
    bgnbd = bgnbd or BetaGeoParams()
    spend = spend or GammaGammaParams()
    noise = noise or ShopNoise()
    behaviour = behaviour or ShopBehaviour()
    taste = taste or ShopTaste()
    streams = v.as_rng(rng).spawn(10)
    start_us = int(start64.astype(np.int64))
    window = float((end64 - start64) / np.timedelta64(1, "us")) / _DAY_US
    scale = 10 ** MINOR_UNITS[currency]

    clock = _Clock(n)
    people = draw_people(n, start=start64, noise=noise, window_days=window, rng=streams[0])
    clock.lap("persons")
    g = streams[1]
    acquired = g.random(n) * window
    purchases = draw_purchases(acquired, window, bgnbd, spend, g)
    has_web = g.random(n) < behaviour.web_account
    has_loyalty = g.random(n) < behaviour.loyalty_card
    has_market = g.random(n) < behaviour.marketplace
    how = assign_channels(purchases.person, has_web, has_loyalty, has_market, behaviour, g)

    clock.lap("purchases")
    # records: web accounts, guest checkouts, loyalty cards, support tickets, marketplace buyers
    g = streams[2]
    web_p = np.flatnonzero(has_web)
    web_day = np.maximum(acquired[web_p] - g.exponential(5.0, web_p.size), 0.0)
    loy_p = np.flatnonzero(has_loyalty)
    guest_rows = np.flatnonzero(how == GUEST)
    market_rows = np.flatnonzero(how == MARKETPLACE_ACCOUNT)
    market_p, first_row = np.unique(purchases.person[market_rows], return_index=True)
    tickets = g.poisson(behaviour.support_tickets, n)
    support_p = np.repeat(np.arange(n), tickets)
    support_day = acquired[support_p] + g.random(support_p.size) * (window - acquired[support_p])
    draft = _RecordDraft(
        [
            (WEB, web_p, web_day),
            (CHECKOUT, purchases.person[guest_rows], purchases.day[guest_rows]),
            (LOYALTY, loy_p, acquired[loy_p]),
            (SUPPORT, support_p, support_day),
            (MARKETPLACE, market_p, purchases.day[market_rows[first_row]]),
        ]
    )
    web_pos = np.full(n, -1, dtype=np.int64)
    web_pos[web_p] = draft.positions(0)
    loy_pos = np.full(n, -1, dtype=np.int64)
    loy_pos[loy_p] = draft.positions(2)
    market_pos = np.full(n, -1, dtype=np.int64)
    market_pos[market_p] = draft.positions(4)
    purchase_record = np.select(
        [how == WEB_ACCOUNT, how == LOYALTY_CARD, how == MARKETPLACE_ACCOUNT],
        [web_pos[purchases.person], loy_pos[purchases.person], market_pos[purchases.person]],
        -1,
    )
    purchase_record[guest_rows] = draft.positions(1)
    clock.lap("record draft")
    fields = write_records(people, draft.person, draft.source, draft.day, noise, streams[3])
    records = _table(
        SourceRecordColumns,
        record_id=draft.record_id,
        source=np.array(SOURCES)[draft.source],
        source_key=draft.key,
        observed_at=_times(start_us, draft.day),
        email=tight(fields.email),
        phone=tight(fields.phone),
        first_name=tight(fields.first_name),
        last_name=tight(fields.last_name),
        birth_date=fields.birth_date,
        street=tight(fields.street),
        city=tight(fields.city),
        postcode=tight(fields.postcode),
        country=fields.country,
    )
    # keep what the truth and the events need; the rest of the persons' fields can go
    record_noise = fields.noise
    first_name, last_name, cookie = people.first, people.last, people.cookie
    moved_day, household, namesake_of = people.moved_day, people.household, people.namesake_of
    del people, fields

    clock.lap("records")
    # orders and lines, returns
    catalog = make_catalog(n_products, currency=currency, rng=streams[4])
    likes = draw_taste(n, catalog, purchases.lam, taste, streams[8])
    replenish = replenishment_rows(purchases.person, purchases.day, likes, taste, streams[8])
    clock.lap("tastes")
    od = draft_orders(
        purchases.person,
        purchases.day,
        purchases.spend,
        how,
        window_days=window,
        minor_scale=scale,
        catalog=catalog,
        taste=likes,
        replenish=replenish,
        behaviour=behaviour,
        rng=streams[5],
    )
    clock.lap("order draft")
    order_record = purchase_record[od.purchase]
    orders, lines, order_ids = _order_tables(od, order_record, draft.record_id, catalog, start_us)
    clock.lap("order tables")
    rd = draft_returns(od, window_days=window, behaviour=behaviour, rng=streams[5])
    returns = _table(
        ReturnColumns,
        return_id=_ids("r", rd.order.size),
        order_id=order_ids[rd.order],
        customer_id=draft.record_id[order_record[rd.order]],
        at=_times(start_us, rd.day),
        refund_minor=rd.refund,
        currency=np.full(rd.order.size, currency),
    )

    clock.lap("returns")
    # consents and events
    g = streams[6]
    cd = draft_consents(
        web_pos[web_p],
        draft.day[web_pos[web_p]],
        loy_pos[loy_p],
        draft.day[loy_pos[loy_p]],
        window_days=window,
        behaviour=behaviour,
        rng=g,
    )
    consents = _table(
        ConsentColumns,
        customer_id=draft.record_id[cd.record],
        channel=np.array(CHANNELS)[cd.channel],
        purpose=np.full(cd.record.size, "marketing"),
        status=np.array(["granted", "denied", "revoked"])[cd.status],
        at=_times(start_us, cd.day),
        expires_at=np.full(cd.record.size, np.datetime64("NaT", "us")),
    )
    clock.lap("consents")
    email_granted = (cd.channel == 0) & (cd.status == 0)
    grant_end = np.full(len(draft.day), window)
    revoked = (cd.channel == 0) & (cd.status == 2)
    grant_end[cd.record[revoked]] = cd.day[revoked]
    grant_records = cd.record[email_granted]
    last_purchase = np.zeros(n)
    last_purchase[purchases.person] = purchases.day  # rows are in time order per person
    active_until = np.where(purchases.alive, window, last_purchase)
    ed = draft_events(
        od,
        acquired=acquired,
        active_until=active_until,
        has_web=has_web,
        email_grants=(
            draft.person[grant_records],
            cd.day[email_granted],
            grant_end[grant_records],
        ),
        window_days=window,
        behaviour=behaviour,
        rng=streams[7],
    )
    clock.lap("event draft")
    event_person, event_type, abandoned = ed.person, ed.type, ed.abandoned_carts
    event_at = _times(start_us, ed.day)
    known = np.flatnonzero(ed.logged_in & (web_pos[event_person] >= 0))
    del ed
    web_width = len(SOURCES[WEB]) + 1 + len(_KEY_PREFIX[WEB]) + _width(web_p.size)
    event_customer = np.zeros(event_person.size, dtype=f"U{web_width}")
    event_customer[known] = draft.record_id[web_pos[event_person[known]]]
    del known
    anonymous = cookie[event_person]
    anonymous[event_type >= EVENT_TYPES.index("email_open")] = ""  # e-mail events come last
    events = _table(
        EventColumns,
        event_id=_ids("e", event_person.size),
        customer_id=event_customer,
        anonymous_id=anonymous,
        type=np.array(EVENT_TYPES)[event_type],
        at=event_at,
    )
    del event_customer, anonymous, event_at, event_type
    # only what the truth keeps from here on
    order_person, line_count, line_replenishment = od.person, od.line_count, od.line_replenish
    return_person = od.person[rd.order]
    record_person, consent_person = draft.person, draft.person[cd.record]
    latents = (purchases.lam, purchases.p, purchases.nu, purchases.alive, purchases.n_repeat)
    del od, rd, cd, draft, purchases, how, purchase_record, order_record, active_until
    del web_pos, loy_pos, market_pos, grant_end, grant_records, last_purchase, replenish
    clock.lap("events")
    truth = ShopTruth(
        start=start,
        end=end,
        bgnbd=bgnbd,
        spend=spend,
        noise=noise,
        behaviour=behaviour,
        taste_params=taste,
        person_id=_ids("p", n),
        first_name=first_name,
        last_name=last_name,
        lam=latents[0],
        p=latents[1],
        nu=latents[2],
        alive=latents[3],
        n_repeat=latents[4],
        acquired_at=_times(start_us, acquired),
        moved_at=np.where(
            np.isnan(moved_day),
            np.datetime64("NaT", "us"),
            _times(start_us, np.nan_to_num(moved_day)),
        ),
        household=household,
        namesake_of=namesake_of,
        cookie_id=cookie,
        categories=likes.categories,
        cluster_share=likes.cluster_share,
        cluster_profile=likes.profile,
        cluster_affinity=likes.affinity,
        cluster=likes.cluster,
        taste=likes.taste,
        product_cycle_days=likes.product_cycle,
        replenish_product=likes.replenish_product,
        replenish_days=likes.replenish_days,
        record_person=record_person,
        record_noise=record_noise,
        order_person=order_person,
        line_person=np.repeat(order_person, line_count),
        line_replenishment=line_replenishment,
        return_person=return_person,
        event_person=event_person,
        consent_person=consent_person,
        abandoned_carts=abandoned,
    )
    clock.lap("truth")
    return SyntheticShop(
        records=records,
        orders=orders,
        order_lines=lines,
        returns=returns,
        events=events,
        consents=consents,
        products=catalog,
        truth=truth,
    )


def _order_tables(
    od: OrderDraft,
    order_record: Int,
    record_id: npt.NDArray[np.str_],
    catalog: Catalog,
    start_us: int,
) -> tuple[OrderColumns, OrderLineColumns, npt.NDArray[np.str_]]:
    n = od.person.size
    order_ids = _ids("o", n)
    placed = _times(start_us, od.day)
    customer = record_id[order_record]
    currency = np.full(n, catalog.currency)
    orders = _table(
        OrderColumns,
        order_id=order_ids,
        customer_id=customer,
        placed_at=placed,
        currency=currency,
        total_minor=od.total,
        shipping_minor=od.shipping,
        tax_minor=od.tax,
        status=np.array(STATUSES)[od.status],
        channel=np.array(ORDER_CHANNELS)[od.how],
    )
    owner = np.repeat(np.arange(n), od.line_count)
    line_no = np.arange(owner.size) - np.repeat(od.line_offset, od.line_count)
    price = catalog.price_minor[od.line_product]
    lines = _table(
        OrderLineColumns,
        order_id=order_ids[owner],
        line_no=line_no,
        customer_id=customer[owner],
        placed_at=placed[owner],
        product_id=catalog.product_id[od.line_product],
        quantity=od.line_quantity,
        unit_price_minor=price,
        discount_minor=od.line_discount,
        total_minor=od.line_total,
        currency=currency[owner],
        category=catalog.category[od.line_product],
    )
    return orders, lines, order_ids
