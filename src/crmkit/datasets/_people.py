"""The persons behind the shop's records: true names, contact points, addresses and households."""

from __future__ import annotations

import functools

import attrs
import numpy as np
import numpy.typing as npt

from crmkit._data import nicknames, read_csv
from crmkit.datasets._config import ShopNoise
from crmkit.datasets._strings import build_by, digits, drop_letter, join, number

__all__ = ["DE_SUFFIXES", "GB_SUFFIXES", "NameTables", "People", "draw_people", "name_tables"]

Str = npt.NDArray[np.str_]
Int = npt.NDArray[np.int64]
Flt = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_DATA = "crmkit.datasets"
#: (full, abbreviated) street suffixes; GB suffixes follow the name, German ones are appended.
GB_SUFFIXES = (
    ("Street", "St"),
    ("Road", "Rd"),
    ("Lane", "Ln"),
    ("Avenue", "Ave"),
    ("Close", "Cl"),
    ("Drive", "Dr"),
    ("Gardens", "Gdns"),
    ("Crescent", "Cres"),
    ("Place", "Pl"),
)
DE_SUFFIXES = (("straße", "str."), ("weg", "weg"), ("allee", "allee"), ("platz", "pl."))
_DOMAINS = (
    ("gmail.com", 34),
    ("googlemail.com", 3),
    ("outlook.com", 10),
    ("hotmail.com", 8),
    ("yahoo.com", 7),
    ("icloud.com", 7),
    ("web.de", 8),
    ("gmx.de", 8),
    ("btinternet.com", 4),
    ("t-online.de", 4),
    ("proton.me", 3),
    ("posteo.de", 2),
    ("example.org", 2),
)
_DE_MOBILE = ("151", "152", "157", "160", "162", "170", "171", "172", "173", "175", "176", "177")
_GB_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_KIND = 2000 * 2000 * 1000  # e-mail key: pattern kind * _KIND + name and number parts


@attrs.frozen
class NameTables:
    """The compiled name, nickname and place tables as arrays."""

    first: Str
    first_sex: Str
    first_weight: Flt
    nick_start: Int  # per first name: offset into ``nick`` (count in ``nick_count``)
    nick_count: Int
    nick: Str
    last: Str
    last_weight: Flt
    city: Str
    city_country: Str
    city_prefix: Str
    city_area: Str
    city_weight: Flt
    street_gb: Str
    street_de: Str


@functools.cache
def name_tables() -> NameTables:
    """Read the package's CSV tables once."""
    firsts = read_csv(_DATA, "data/first_names.csv")
    lasts = read_csv(_DATA, "data/last_names.csv")
    cities = read_csv(_DATA, "data/cities.csv")
    streets = read_csv(_DATA, "data/streets.csv")
    nick_map = nicknames()
    start: list[int] = []
    count: list[int] = []
    flat: list[str] = []
    for row in firsts:
        nicks = nick_map.get(row["name"], ())
        start.append(len(flat))
        count.append(len(nicks))
        flat.extend(nicks)
    return NameTables(
        first=np.array([r["name"] for r in firsts]),
        first_sex=np.array([r["sex"] for r in firsts]),
        first_weight=np.array([float(r["weight"]) for r in firsts]),
        nick_start=np.array(start, dtype=np.int64),
        nick_count=np.array(count, dtype=np.int64),
        nick=np.array(flat if flat else [""]),
        last=np.array([r["name"] for r in lasts]),
        last_weight=np.array([float(r["weight"]) for r in lasts]),
        city=np.array([r["city"] for r in cities]),
        city_country=np.array([r["country"] for r in cities]),
        city_prefix=np.array([r["postcode_prefix"] for r in cities]),
        city_area=np.array([r["area_code"] for r in cities]),
        city_weight=np.array([float(r["weight"]) for r in cities]),
        street_gb=np.array([r["base"] for r in streets if r["country"] == "GB"]),
        street_de=np.array([r["base"] for r in streets if r["country"] == "DE"]),
    )


@attrs.frozen(kw_only=True)
class Address:
    """Per-person address columns (one set for the current, one for the former address)."""

    city: Int  # index into the city table
    street: Str  # the street's base name
    suffix: Int  # index into GB_SUFFIXES / DE_SUFFIXES
    number: Int
    postcode: Str


@attrs.frozen(kw_only=True)
class People:
    """The true attributes of every person (aligned arrays, one row per person)."""

    first_idx: Int
    first: Str
    last: Str
    birth: npt.NDArray[np.datetime64]  # datetime64[D]
    email: Str
    alt_email: Str  # "" when the person has none
    phone_cc: Str
    phone_area: Str
    phone_sub1: Str
    phone_sub2: Str
    country: Str  # of the current address
    address: Address
    old_address: Address
    old_country: Str
    moved_day: Flt  # NaN when the person did not move
    household: Int  # index of the household's head, -1 when living alone (the head: itself)
    namesake_of: Int  # the person whose name this person shares, -1 when none
    cookie: Str


def _weighted(rng: np.random.Generator, weights: Flt, size: int) -> Int:
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), weights.size - 1)


def _first_letter(values: Str) -> Str:
    return values.astype("U1")


def _address(t: NameTables, rng: np.random.Generator, n: int) -> Address:
    city = _weighted(rng, t.city_weight, n)
    de = t.city_country[city] == "DE"
    street = np.where(
        de,
        t.street_de[rng.integers(0, t.street_de.size, n)],
        t.street_gb[rng.integers(0, t.street_gb.size, n)],
    )
    suffix = np.where(
        de, rng.integers(0, len(DE_SUFFIXES), n), rng.integers(0, len(GB_SUFFIXES), n)
    )
    house = np.minimum(rng.geometric(0.03, n), 250).astype(np.int64)
    gb_code = join(
        t.city_prefix[city],
        number(rng.integers(1, 21, n)),
        " ",
        digits(rng.integers(1, 10, n), 1),
        _GB_LETTERS[rng.integers(0, _GB_LETTERS.size, n)],
        _GB_LETTERS[rng.integers(0, _GB_LETTERS.size, n)],
    )
    de_code = join(t.city_prefix[city], digits(rng.integers(0, 1000, n), 3))
    return Address(
        city=city,
        street=street,
        suffix=suffix,
        number=house,
        postcode=np.where(de, de_code, gb_code),
    )


def _unique_emails(local: Str, domain: Str, key: Int) -> Str:
    """E-mail addresses made unique: later holders of one address get a 3-digit suffix.

    ``key`` encodes how each address was built (pattern, name indexes, number, domain), so two
    rows get the same address exactly when they share a key; the suffix (100 + rank) is longer
    than any number a pattern writes, so suffixed addresses collide with nothing.
    """
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new_group = np.ones(ks.size, dtype=bool)
    new_group[1:] = ks[1:] != ks[:-1]
    starts = np.flatnonzero(new_group)
    rank_sorted = np.arange(ks.size) - np.repeat(starts, np.diff(np.append(starts, ks.size)))
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    dup = np.flatnonzero(rank > 0)
    if dup.size:
        local = local.astype(f"U{local.dtype.itemsize // 4 + 3}")
        local[dup] = join(local[dup], digits(100 + (rank[dup] - 1) % 900, 3))
    return join(local, "@", domain)


def _email_local(
    first_idx: Int, last_idx: Int, birth_year: Int, rng: np.random.Generator
) -> tuple[Str, Int]:
    """Local parts from names by pattern, and an integer key of what each is made of."""
    t = name_tables()
    n = first_idx.size
    first_lower = np.char.lower(t.first)
    last_lower = np.char.lower(t.last)
    # one token id per distinct lower-case name, whether it is a first or a last name, so that
    # "james.alexander" built as first.last and as last.first gets one key
    tokens = np.unique(np.concatenate([first_lower, last_lower]))
    tf = np.searchsorted(tokens, first_lower)[first_idx]
    tl = np.searchsorted(tokens, last_lower)[last_idx]
    f = first_lower[first_idx]
    la = last_lower[last_idx]
    f0 = first_lower.astype("U1").view(np.uint32).astype(np.int64)[first_idx]
    l0 = last_lower.astype("U1").view(np.uint32).astype(np.int64)[last_idx]
    pattern = rng.integers(0, 8, n)
    num = np.where(pattern == 4, rng.integers(1, 100, n), rng.integers(100, 1000, n))
    yy = birth_year % 100
    builders = [
        lambda i: join(f[i], ".", la[i]),
        lambda i: join(f[i], la[i]),
        lambda i: join(_first_letter(f[i]), ".", la[i]),
        lambda i: join(f[i], "_", la[i]),
        lambda i: join(f[i], ".", la[i], number(num[i])),
        lambda i: join(f[i], digits(yy[i], 2)),
        lambda i: join(la[i], ".", f[i]),
        lambda i: join(f[i], _first_letter(la[i]), number(num[i])),
    ]
    # (pattern, first part, last part, number) → one integer; last.first is first.last swapped
    kind = np.where(pattern == 6, 0, pattern)
    first_part = np.select([pattern == 2, pattern == 6], [1000 + f0, tl], tf)
    last_part = np.select([pattern == 5, pattern == 7, pattern == 6], [0, 1000 + l0, tf], tl)
    number_part = np.select([pattern == 4, pattern == 5, pattern == 7], [num, yy, num], 0)
    key = kind * _KIND + (first_part * 2000 + last_part) * 1000 + number_part
    return build_by(pattern, builders), key


def _phones(
    t: NameTables, city: Int, rng: np.random.Generator, n: int
) -> tuple[Str, Str, Str, Str]:
    de = t.city_country[city] == "DE"
    mobile = rng.random(n) < 0.6
    gb_mobile = join("7", digits(rng.integers(400, 1000, n), 3))
    de_mobile = np.array(_DE_MOBILE)[rng.integers(0, len(_DE_MOBILE), n)]
    area = np.where(mobile, np.where(de, de_mobile, gb_mobile), t.city_area[city])
    length = np.where(de & mobile, 8, 10 - np.char.str_len(area)).astype(np.int64)
    sub = rng.integers(2 * 10 ** (length - 1), 10**length)
    second = length - length // 2
    sub1 = sub // 10**second
    sub2 = drop_letter(number(sub % 10**second + 10**second), np.zeros(n, dtype=np.int64))
    cc = np.where(de, "49", "44")
    return cc, area, number(sub1), sub2


def draw_people(
    n: int, *, start: np.datetime64, noise: ShopNoise, window_days: float, rng: np.random.Generator
) -> People:
    """Draw ``n`` persons with names, birth dates, e-mails, phones, addresses and households."""
    t = name_tables()
    sex = np.where(rng.random(n) < 0.5, "f", "m")
    female = np.flatnonzero(t.first_sex == "f")
    male = np.flatnonzero(t.first_sex == "m")
    first_idx = np.where(
        sex == "f",
        female[_weighted(rng, t.first_weight[female], n)],
        male[_weighted(rng, t.first_weight[male], n)],
    )
    last_idx = _weighted(rng, t.last_weight, n)
    # namesakes: a person takes the first and last name of another person
    namesake_of = np.full(n, -1, dtype=np.int64)
    if n > 1:
        pick = rng.random(n) < noise.namesake
        chosen, pool = np.flatnonzero(pick), np.flatnonzero(~pick)
        if pool.size == 0:
            chosen, pool = chosen[1:], chosen[:1]
        other = pool[rng.integers(0, pool.size, chosen.size)]
        namesake_of[chosen] = other
        first_idx[chosen] = first_idx[other]
        last_idx[chosen] = last_idx[other]
    # households: a person moves in with a head (a person living alone)
    household = np.full(n, -1, dtype=np.int64)
    joiner = rng.random(n) < noise.household
    heads_pool = np.flatnonzero(~joiner)
    joiners = np.flatnonzero(joiner)
    if heads_pool.size and joiners.size:
        heads = heads_pool[rng.integers(0, heads_pool.size, joiners.size)]
        household[joiners] = heads
        household[heads] = heads
        # a joiner often takes the head's last name, unless that would break a namesake pair
        in_pair = np.zeros(n, dtype=bool)
        in_pair[namesake_of[namesake_of >= 0]] = True
        in_pair[namesake_of >= 0] = True
        same_name = (rng.random(joiners.size) < 0.6) & ~in_pair[joiners]
        last_idx[joiners[same_name]] = last_idx[heads[same_name]]
    else:
        heads = np.empty(0, dtype=np.int64)
    first = t.first[first_idx]
    last = t.last[last_idx]
    age_days = rng.integers(18 * 365, 85 * 365, n)
    birth = (start.astype("datetime64[D]") - age_days.astype("timedelta64[D]")).astype(
        "datetime64[D]"
    )
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    domains = np.array([d for d, _ in _DOMAINS])
    weights = np.array([w for _, w in _DOMAINS], dtype=np.float64)
    local, key = _email_local(first_idx, last_idx, birth_year, rng)
    alt_local, alt_key = _email_local(first_idx, last_idx, birth_year + 1, rng)
    domain_idx = np.concatenate([_weighted(rng, weights, n), _weighted(rng, weights, n)])
    key = np.concatenate([key, alt_key])
    # gmail ignores dots and treats googlemail.com as gmail.com: one mailbox, one key
    gmail = domain_idx <= 1
    key = np.where(gmail & (key // _KIND == 1), key - _KIND, key)
    both = _unique_emails(
        np.concatenate([local, alt_local]),
        domains[domain_idx],
        key * len(_DOMAINS) + np.where(gmail, 0, domain_idx),
    )
    email, alt_email = both[:n], both[n:]
    alt_email = np.where(rng.random(n) < noise.alternate_email, alt_email, "")
    address = _address(t, rng, n)
    old_address = _address(t, rng, n)
    moved_day = np.where(rng.random(n) < noise.moved, rng.random(n) * window_days, np.nan)
    if joiners.size:
        for addr in (address, old_address):
            for field in ("city", "street", "suffix", "number", "postcode"):
                getattr(addr, field)[joiners] = getattr(addr, field)[heads]
        moved_day[joiners] = moved_day[heads]
    cc, area, sub1, sub2 = _phones(t, address.city, rng, n)
    cookie = join("ck-", digits(rng.permutation(n), len(str(max(n - 1, 0)))))
    return People(
        first_idx=first_idx,
        first=first,
        last=last,
        birth=birth,
        email=email,
        alt_email=alt_email,
        phone_cc=cc,
        phone_area=area,
        phone_sub1=sub1,
        phone_sub2=sub2,
        country=t.city_country[address.city],
        address=address,
        old_address=old_address,
        old_country=t.city_country[old_address.city],
        moved_day=moved_day,
        household=household,
        namesake_of=namesake_of,
        cookie=cookie,
    )
