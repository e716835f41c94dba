"""Serialization: the one cattrs converter for every crmkit value, and JSON helpers around it.

Examples:
    >>> from crmkit.model import Money
    >>> from crmkit.serialization import dumps, loads
    >>> loads(dumps(Money.of("9.99", "EUR")), Money)
    Money(amount_minor=999, currency='EUR')
"""

from crmkit.serialization._converter import dump, dumps, load, loads, make_converter

__all__ = ["dump", "dumps", "load", "loads", "make_converter"]
