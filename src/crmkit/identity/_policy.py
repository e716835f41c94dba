"""Stitching policies: which identifiers link records, and the rules that stop blob profiles."""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from crmkit.errors import InvalidInputError
from crmkit.identity._normalize import EmailPolicy

__all__ = ["FIELDS", "IdentifierPolicy", "StitchingPolicy"]


def _tuple(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _policies(items: Iterable[IdentifierPolicy]) -> tuple[IdentifierPolicy, ...]:
    return tuple(items)


def _frozenset(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


#: The normalized fields a rule may combine; any other name is an extra identifier column.
FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
)

#: Values that mean "nothing" in any identifier, after normalization (lower-cased).
PLACEHOLDERS = frozenset(
    {"null", "none", "nan", "n/a", "na", "nil", "undefined", "unknown", "anonymous", "test", "-1"}
)

_EMAIL_PREFIXES = tuple(
    f"{p}@"
    for p in (
        "test",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "anonymous",
        "null",
        "none",
        "unknown",
        "nobody",
        "invalid",
        "mailer-daemon",
        "postmaster",
    )
)
_EMAIL_SUFFIXES = (
    "@example.com",
    "@example.org",
    "@example.net",
    "@test.com",
    "@invalid",
    "@localhost",
    # marketplace relay addresses: one mailbox per order or per marketplace, never a person
    "marketplace.amazon.com",
    "marketplace.amazon.de",
    "marketplace.amazon.co.uk",
    "marketplace.amazon.fr",
    "members.ebay.com",
    "members.ebay.de",
    "relay.otto.de",
    "kaufland-marktplatz.de",
    "zalando-partner.com",
)


def _check_kind(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
        raise InvalidInputError(
            f"IdentifierPolicy.kind: {value!r} is not snake_case. Use names like 'loyalty_card'."
        )


@attrs.frozen(kw_only=True)
class IdentifierPolicy:
    """How one kind of identifier links records, and what limits it.

    ``fields``: the normalized fields whose values together form the identifier (default: the
    field or extra column named ``kind``; a composite such as ``("first_name", "last_name",
    "birth_date")`` links only when all are valid and equal). ``priority``: lower links first, and
    when a merge would break a limit the link of lower priority is the one refused. ``limit``: most
    distinct values of this kind in one entity (``window_days``: within any window of that many
    days, by first observation). ``immutable``: two different values never merge (limit 1 that no
    human must-link overrides). Blocked values never link: ``blocked_values`` (exact),
    ``blocked_prefixes``/``blocked_suffixes`` and ``blocked_patterns`` (regex, full match).
    ``scored``: the rule has no key of its own; its links come with a score from a matcher (e.g.
    Fellegi–Sunter) and those below ``min_score`` are ignored. ``corroborate``: normalized fields
    (e.g. ``("first_name",)``) that guard a shared value: a value seen with several distinct
    corroborating values (a household phone or inbox, detected by that cardinality) links only
    records that agree on them, and records without them are not linked by it. First names agree
    when they are one name spelled two ways (Tobias/Tboias, Ann/Anne) or one stands for the other
    (Bob/Robert, Sam/Samuel, J/Jacob); Thomas/Tobias do not, and a name that may stand for two
    others (Jo: Joseph, Johanna) links neither.

    Examples:
        >>> p = IdentifierPolicy(kind="loyalty_card", priority=1, limit=1, immutable=True)
        >>> p.fields
        ('loyalty_card',)
    """

    kind: str = attrs.field(validator=_check_kind)
    fields: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    priority: int = 0
    limit: int | None = None
    window_days: int | None = None
    immutable: bool = False
    blocked_values: frozenset[str] = attrs.field(converter=_frozenset, default=frozenset())
    blocked_prefixes: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    blocked_suffixes: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    blocked_patterns: tuple[str, ...] = attrs.field(converter=_tuple, default=())
    min_score: float = 0.0
    scored: bool = False
    corroborate: tuple[str, ...] = attrs.field(converter=_tuple, default=())

    def __attrs_post_init__(self) -> None:
        if self.scored:
            object.__setattr__(self, "fields", ())
            object.__setattr__(self, "corroborate", ())
        elif not self.fields:
            object.__setattr__(self, "fields", (self.kind,))
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError(
                f"IdentifierPolicy.limit: {self.limit} for {self.kind!r}. Use >= 1 or None."
            )
        if self.window_days is not None and (self.limit is None or self.window_days < 1):
            raise InvalidInputError(
                f"IdentifierPolicy.window_days: {self.window_days} for {self.kind!r} needs a "
                "limit and a window >= 1 day."
            )
        for pattern in self.blocked_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidInputError(
                    f"IdentifierPolicy.blocked_patterns: {pattern!r} is not a regex ({exc})."
                ) from exc

    @property
    def effective_limit(self) -> int | None:
        """The limit enforced: 1 for immutable identifiers, else ``limit``."""
        return 1 if self.immutable else self.limit


@attrs.frozen(kw_only=True)
class StitchingPolicy:
    """The rules of deterministic stitching, as customer data platforms configure them.

    ``identifiers`` in any order (``priority`` orders them); ``max_entity_size`` caps the records
    of one entity (None: no cap); ``email`` holds the provider rules; ``default_region`` reads
    national phone numbers (a record's ``country`` overrides it).

    Examples:
        >>> policy = StitchingPolicy.default()
        >>> first = policy.ordered()[:3]
        >>> tuple((p.kind, p.limit) for p in first)
        (('customer_id', 1), ('loyalty_card', 1), ('email', 5))
        >>> StitchingPolicy.permissive().max_entity_size is None
        True
    """

    identifiers: tuple[IdentifierPolicy, ...] = attrs.field(converter=_policies)
    max_entity_size: int | None = 50
    email: EmailPolicy = attrs.field(factory=EmailPolicy)
    default_region: str = "DE"
    block_placeholders: bool = True

    def __attrs_post_init__(self) -> None:
        kinds = [p.kind for p in self.identifiers]
        dup = sorted({k for k in kinds if kinds.count(k) > 1})
        if dup:
            raise InvalidInputError(
                f"StitchingPolicy.identifiers: kinds {dup} appear twice. Give each kind once."
            )
        odd = sorted({f for p in self.identifiers for f in p.corroborate} - set(FIELDS))
        if odd:
            raise InvalidInputError(
                f"StitchingPolicy.identifiers: corroborate names {odd}, which are not standard "
                f"fields. Use some of {list(FIELDS)}."
            )
        if self.max_entity_size is not None and self.max_entity_size < 2:
            raise InvalidInputError(
                f"StitchingPolicy.max_entity_size: {self.max_entity_size}. Use >= 2 or None."
            )

    def ordered(self) -> tuple[IdentifierPolicy, ...]:
        """The identifier policies by priority, then kind."""
        return tuple(sorted(self.identifiers, key=lambda p: (p.priority, p.kind)))

    def get(self, kind: str) -> IdentifierPolicy:
        """The policy of ``kind`` (InvalidInputError if the policy has none)."""
        for p in self.identifiers:
            if p.kind == kind:
                return p
        known = sorted(p.kind for p in self.identifiers)
        raise InvalidInputError(
            f"rule: {kind!r} is not a rule of the policy (known: {known}). Declare it as an "
            "IdentifierPolicy first."
        )

    def extra_columns(self) -> tuple[str, ...]:
        """Identifier columns beyond the standard fields (e.g. customer_id, loyalty_card)."""
        return tuple(sorted({f for p in self.identifiers for f in p.fields} - set(FIELDS)))

    def with_identifiers(self, identifiers: Iterable[IdentifierPolicy]) -> StitchingPolicy:
        """The same policy with identifier policies added or replaced by kind."""
        new = {p.kind: p for p in self.identifiers}
        new.update({p.kind: p for p in identifiers})
        return attrs.evolve(self, identifiers=tuple(new.values()))

    @classmethod
    def default(cls) -> StitchingPolicy:
        """Blocked values, limits (customer_id 1 ever, loyalty_card 1, email 5, phone 3), merge
        protection (immutable customer ids, at most 50 records per entity, a shared email or phone
        links only records with compatible first names), two composite rules (name + birth date,
        name + street + postcode) and the scored rule ``fellegi_sunter`` of probabilistic links
        (match probability >= 0.99)."""
        common = PLACEHOLDERS
        return cls(
            identifiers=(
                IdentifierPolicy(
                    kind="customer_id", priority=0, limit=1, immutable=True, blocked_values=common
                ),
                IdentifierPolicy(kind="loyalty_card", priority=1, limit=1, blocked_values=common),
                IdentifierPolicy(
                    kind="email",
                    priority=2,
                    limit=5,
                    blocked_prefixes=_EMAIL_PREFIXES,
                    blocked_suffixes=_EMAIL_SUFFIXES,
                    corroborate=("first_name",),
                ),
                IdentifierPolicy(
                    kind="phone",
                    priority=3,
                    limit=3,
                    blocked_patterns=(r"\+\d{1,3}(\d)\1+", r"\+\d{1,3}0?123456789?0?"),
                    corroborate=("first_name",),
                ),
                IdentifierPolicy(
                    kind="name_dob", fields=("first_name", "last_name", "birth_date"), priority=4
                ),
                IdentifierPolicy(
                    kind="name_address",
                    fields=("first_name", "last_name", "street", "postcode"),
                    priority=5,
                ),
                # probabilistic links (crmkit.identity.linkage), under the same limits
                IdentifierPolicy(kind="fellegi_sunter", scored=True, priority=6, min_score=0.99),
            )
        )

    @classmethod
    def permissive(cls) -> StitchingPolicy:
        """The same rules with no blocked values, no limits and no size cap: plain transitive
        closure, what merge protection is measured against."""
        base = cls.default()
        return cls(
            identifiers=tuple(
                IdentifierPolicy(
                    kind=p.kind,
                    fields=p.fields,
                    priority=p.priority,
                    scored=p.scored,
                    min_score=p.min_score,
                )
                for p in base.identifiers
            ),
            max_entity_size=None,
            block_placeholders=False,
        )
