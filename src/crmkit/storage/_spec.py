"""How a module declares a collection of its own: a keyed-value collection spec."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs

from crmkit.errors import InvalidInputError

__all__ = ["CollectionSpec"]

T = TypeVar("T")

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def _check_name(inst: object, attr: object, value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInputError(
            f"CollectionSpec.name: {value!r} is not a dotted lower snake_case name such as "
            "'identity.links'."
        )


@attrs.frozen(kw_only=True)
class CollectionSpec(Generic[T]):
    """A collection of frozen values of one type, kept by key: what a new module adds to a store.

    The store keeps each value as the JSON document of ``crmkit.serialization.make_converter()``
    under ``key(value)``, indexed by ``customer(value)`` and ``time(value)`` when given. Every
    document whose ``customer(value)`` is an erased customer is deleted by ``erase()``.

    Attributes:
        name: a unique dotted snake_case name, by convention ``"<module>.<collection>"``.
        value_type: the attrs class of the values.
        key: the value's key, unique within the collection.
        customer: the customer a value belongs to (``None`` for values of nobody).
        time: the value's time, the order of scans and ``for_customer`` (else key order).

    Examples:
        >>> from crmkit.model import Product
        >>> SPEC = CollectionSpec(name="catalog.featured", value_type=Product,
        ...                       key=lambda p: p.product_id)
        >>> SPEC.name
        'catalog.featured'
    """

    name: str = attrs.field(validator=_check_name)
    value_type: type[T]
    key: Callable[[T], str]
    customer: Callable[[T], str | None] | None = None
    time: Callable[[T], dt.datetime] | None = None
