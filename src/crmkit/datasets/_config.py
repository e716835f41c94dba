"""The knobs of the synthetic shop: the purchase process, the spend process, behaviour and noise."""

from __future__ import annotations

import math
from typing import Any

import attrs

from crmkit.datasets._catalog import CATEGORIES
from crmkit.errors import InvalidInputError

__all__ = ["BetaGeoParams", "GammaGammaParams", "ShopBehaviour", "ShopNoise", "ShopTaste"]


def _positive(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a finite number (got {value!r})."
        )
    if value <= 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: must be > 0 (got {value!r}). "
            "Pass a positive parameter."
        )


def _non_negative(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a finite number (got {value!r})."
        )
    if value < 0:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: must be >= 0 (got {value!r}). Pass a rate >= 0."
        )


def _rate(inst: Any, attr: Any, value: Any) -> None:
    _non_negative(inst, attr, value)
    if value > 1:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: a probability must lie in [0, 1] "
            f"(got {value!r}). Pass a share such as 0.05."
        )


def _pos_default(default: float) -> Any:
    return attrs.field(default=default, validator=_positive, converter=float)


@attrs.frozen(kw_only=True)
class BetaGeoParams:
    """BG/NBD parameters of the purchase process, with time measured in days.

    Each person buys at rate λ ~ Gamma(shape ``r``, rate ``alpha``) per day while alive and drops
    out after each repeat purchase with probability p ~ Beta(``a``, ``b``) (Fader, Hardie & Lee,
    2005). The defaults are close to the CDNOW estimates (r = 0.243, α = 4.41 weeks ≈ 30.9 days,
    a = 0.793, b = 2.43).

    Examples:
        >>> BetaGeoParams().mean_rate_per_day
        0.008333333333333333
    """

    r: float = attrs.field(default=0.25, validator=_positive, converter=float)
    alpha: float = attrs.field(default=30.0, validator=_positive, converter=float)
    a: float = attrs.field(default=0.8, validator=_positive, converter=float)
    b: float = attrs.field(default=2.4, validator=_positive, converter=float)

    @property
    def mean_rate_per_day(self) -> float:
        """E[λ] = r / α, purchases per day of an alive person."""
        return self.r / self.alpha

    @property
    def mean_dropout(self) -> float:
        """E[p] = a / (a + b), the chance of dropping out after a repeat purchase."""
        return self.a / (self.a + self.b)


@attrs.frozen(kw_only=True)
class GammaGammaParams:
    """Gamma-Gamma parameters of the spend per order, in major units of the shop's currency.

    A person's spend per order is z ~ Gamma(shape ``p``, rate ν) with ν ~ Gamma(shape ``q``,
    rate ``gamma``) fixed per person (Fader & Hardie, 2013). The mean spend per order across
    persons is p·γ / (q − 1), so ``q`` must exceed 1.

    Examples:
        >>> GammaGammaParams(p=6, q=4, gamma=20).mean_spend
        40.0
    """

    p: float = attrs.field(default=6.0, validator=_positive, converter=float)
    q: float = attrs.field(default=4.0, validator=_positive, converter=float)
    gamma: float = attrs.field(default=20.0, validator=_positive, converter=float)

    def __attrs_post_init__(self) -> None:
        if self.q <= 1:
            raise InvalidInputError(
                f"GammaGammaParams.q: must be > 1 for a finite mean spend (got {self.q!r}). "
                "Pass q > 1."
            )

    @property
    def mean_spend(self) -> float:
        """E[z] = p·γ / (q − 1), the mean spend per order across persons."""
        return self.p * self.gamma / (self.q - 1)


def _share(default: float) -> Any:
    return attrs.field(default=default, validator=_rate, converter=float)


def _count(default: float) -> Any:
    return attrs.field(default=default, validator=_non_negative, converter=float)


@attrs.frozen(kw_only=True)
class ShopBehaviour:
    """How persons use the shop's channels and what happens around orders.

    Shares are probabilities in [0, 1]; ``*_per_year`` values are Poisson rates per person and
    year of activity.

    Examples:
        >>> ShopBehaviour(web_account=1.0).web_account
        1.0
    """

    #: Share of persons with a web account (orders then mostly go through it).
    web_account: float = _share(0.6)
    #: Share of persons with a loyalty card (in-store orders).
    loyalty_card: float = _share(0.3)
    #: Share of persons who also buy through the marketplace.
    marketplace: float = _share(0.2)
    #: Share of a web-account holder's online orders placed as a guest anyway.
    guest_checkout: float = _share(0.1)
    #: Support tickets per person (Poisson mean over the whole window).
    support_tickets: float = _count(0.25)
    #: Share of purchases preceded by a cancelled attempt (an extra, cancelled order).
    cancelled: float = _share(0.03)
    #: Share of purchases with a return.
    returned: float = _share(0.08)
    #: Abandoned carts per person-year of activity.
    abandoned_carts_per_year: float = _count(1.0)
    #: Browsing sessions per person-year of activity (page views, searches, product views).
    browse_sessions_per_year: float = _count(1.0)
    #: Share of web sessions (before online orders, abandoned carts, browsing) that the shop's
    #: analytics records, as for visitors who accept tracking cookies; e-mail events are
    #: recorded by the mail service and always kept.
    tracked: float = _share(0.5)
    #: Marketing e-mail opens per person-year while e-mail consent is granted.
    email_opens_per_year: float = _count(3.0)
    #: Share of e-mail opens followed by a click.
    email_click: float = _share(0.3)
    #: Share of web accounts granting e-mail marketing consent at signup (others deny).
    email_consent: float = _share(0.55)
    #: Share of loyalty cards granting SMS marketing consent.
    sms_consent: float = _share(0.4)
    #: Share of web accounts granting push consent some time after signup.
    push_consent: float = _share(0.2)
    #: Share of grants revoked later in the window.
    revoked: float = _share(0.25)
    #: Sales tax added on top of the goods (order total = goods + tax + shipping).
    tax_rate: float = attrs.field(default=0.07, validator=_rate, converter=float)
    #: Shipping fee in major units, charged below the free-shipping threshold.
    shipping_fee: float = _count(4.9)
    #: Order total (major units) from which shipping is free.
    free_shipping_from: float = _count(50.0)


def _whole(inst: Any, attr: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected a whole number >= 1 (got {value!r})."
        )


def _cycles(inst: Any, attr: Any, value: Any) -> None:
    bad = not value or any(
        isinstance(x, bool) or not isinstance(x, int | float) or not x > 0 for x in value
    )
    if bad:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: expected positive day counts (got {value!r}). "
            "Pass e.g. (30, 60)."
        )


def _categories(inst: Any, attr: Any, value: Any) -> None:
    unknown = sorted({str(c) for c in value} - set(CATEGORIES))
    if unknown:
        raise InvalidInputError(
            f"{type(inst).__name__}.{attr.name}: unknown categories {unknown}. "
            f"Pick from {sorted(CATEGORIES)}."
        )


@attrs.frozen(kw_only=True)
class ShopTaste:
    """What persons like: taste clusters, category tastes, product affinities, consumables.

    Each of ``clusters`` taste clusters has a category profile drawn from a symmetric
    Dirichlet(``cluster_focus``) and an affinity for each product drawn from
    Gamma(``product_focus``, 1). A person belongs to one cluster (cluster sizes are drawn from a
    Dirichlet(4, ..., 4)) and has a taste over categories θ ~ Dirichlet(``person_concentration``
    × profile). Each order line picks a category from θ among the categories with a product in
    the line's price range, then a product of that category in the range with probability
    proportional to the cluster's affinity. So persons keep buying in their favourite categories
    and the products a cluster likes are bought together.

    A share ``consumable`` of the products in ``consumable_categories`` are consumables with a
    replenishment cycle drawn from ``cycle_days``. Each person's favourite consumable is drawn
    from their taste; a share ``replenisher`` of the persons who expect at least
    ``min_orders_per_cycle`` orders per cycle (λ × cycle) buy it again roughly every cycle: their
    own cycle is the product's times a log-normal factor (sd ``cycle_spread``), and each next
    purchase goes into the order nearest to the last purchase + cycle (× a log-normal factor of
    sd ``gap_spread``), at least half a cycle later.

    Examples:
        >>> ShopTaste().clusters, ShopTaste(clusters=3).clusters
        (10, 3)
    """

    clusters: int = attrs.field(default=10, validator=_whole)
    cluster_focus: float = _pos_default(0.3)
    person_concentration: float = _pos_default(20.0)
    product_focus: float = _pos_default(0.25)
    consumable_categories: tuple[str, ...] = attrs.field(
        default=("beauty", "grocery", "home"), converter=tuple, validator=_categories
    )
    consumable: float = attrs.field(default=0.5, validator=_rate, converter=float)
    cycle_days: tuple[float, ...] = attrs.field(
        default=(21.0, 30.0, 45.0, 60.0, 90.0),
        validator=_cycles,
        converter=tuple,
    )
    replenisher: float = attrs.field(default=0.6, validator=_rate, converter=float)
    min_orders_per_cycle: float = _pos_default(2.0)
    cycle_spread: float = attrs.field(default=0.1, validator=_non_negative, converter=float)
    gap_spread: float = attrs.field(default=0.08, validator=_non_negative, converter=float)


@attrs.frozen(kw_only=True)
class ShopNoise:
    """Rates of the noise that real channels put into source records.

    Each rate is a probability in [0, 1], applied per record unless it says per person.
    ``ShopNoise.clean()`` turns every kind off; which fields a channel collects stays as it is.

    Examples:
        >>> ShopNoise.clean().typo, ShopNoise().typo
        (0.0, 0.04)
    """

    #: Upper case, capitalized or title-cased e-mail.
    email_case: float = _share(0.08)
    #: Of gmail addresses: dots added or removed, or a +tag appended.
    gmail_variant: float = _share(0.3)
    #: Per person: a second e-mail address, used on some records.
    alternate_email: float = _share(0.15)
    #: Of records of a person with an alternate e-mail: the alternate is used.
    alternate_email_use: float = _share(0.4)
    #: Of records whose person's first name has a nickname: the nickname is used.
    nickname: float = _share(0.15)
    #: A typo in the first or last name (transposition, dropped or doubled letter).
    typo: float = _share(0.04)
    #: Names written all lower or all upper case.
    name_case: float = _share(0.03)
    #: Street suffix abbreviated (Road → Rd, Straße → Str.).
    street_abbreviation: float = _share(0.2)
    #: Postcode written in lower case or without its space.
    postcode_format: float = _share(0.1)
    #: Per person: moved during the window (older records keep the old address).
    moved: float = _share(0.1)
    #: Per person: lives with another person (shared address, phone, maybe e-mail).
    household: float = _share(0.08)
    #: Of records of a household member: the household phone is given.
    shared_phone: float = _share(0.7)
    #: Of records of a household member: the household e-mail is given.
    shared_email: float = _share(0.3)
    #: Per person: has the same first and last name as another person.
    namesake: float = _share(0.02)
    #: On channels that ask for a birth date: left empty.
    birth_date_missing: float = _share(0.4)
    #: Of given birth dates with day <= 12: day and month swapped.
    day_month_swap: float = _share(0.03)

    @classmethod
    def clean(cls) -> ShopNoise:
        """Noise switched off: every record shows its person's true, current attributes.

        Birth dates are then given wherever a channel asks for one.

        Examples:
            >>> ShopNoise.clean().household
            0.0
        """
        return cls(**{f.name: 0.0 for f in attrs.fields(cls)})
