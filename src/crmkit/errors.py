"""The exception tree of crmkit, rooted at [`CrmkitError`][crmkit.errors.CrmkitError].

Every error also inherits the builtin exception a caller would naturally catch, so
``except ValueError`` keeps working for code that does not know crmkit::

    >>> from crmkit.errors import InvalidInputError
    >>> try:
    ...     raise InvalidInputError("frequency: 1 negative value (first at index 3, value -1). "
    ...                             "Frequency counts repeat purchases and must be >= 0.")
    ... except ValueError as exc:
    ...     print(type(exc).__name__)
    InvalidInputError

Messages follow one shape: ``"argument: what is wrong (evidence). What to do."``.
Every class survives pickling (they take a single message argument).
"""

from __future__ import annotations

__all__ = [
    "CapabilityError",
    "ConflictError",
    "ConvergenceError",
    "CrmkitError",
    "CrmkitWarning",
    "CurrencyMismatchError",
    "DegenerateFitWarning",
    "IntegrityError",
    "InvalidInputError",
    "NotFittedError",
    "NotFoundError",
    "NumericalError",
    "PluginError",
    "SchemaError",
    "StorageError",
]


class CrmkitError(Exception):
    """Root of every error raised by crmkit.

    Examples:
        >>> issubclass(InvalidInputError, CrmkitError)
        True
    """


class InvalidInputError(CrmkitError, ValueError):
    """An argument or a value failed validation; the message names it, the evidence and the fix.

    Examples:
        >>> str(InvalidInputError("email: empty string. Pass None for a missing email."))
        'email: empty string. Pass None for a missing email.'
    """


class CurrencyMismatchError(InvalidInputError):
    """Amounts in different currencies were combined without a rate table.

    Examples:
        >>> issubclass(CurrencyMismatchError, ValueError)
        True
    """


class NumericalError(CrmkitError, ArithmeticError):
    """A computation produced a non-finite value; the message names the parameter regime.

    Examples:
        >>> issubclass(NumericalError, ArithmeticError)
        True
    """


class ConvergenceError(NumericalError):
    """An optimizer did not converge; the message carries its diagnostics.

    Examples:
        >>> issubclass(ConvergenceError, NumericalError)
        True
    """


class NotFittedError(CrmkitError, ValueError, AttributeError):
    """A method that needs fitted parameters was called on an unfitted specification.

    Examples:
        >>> issubclass(NotFittedError, AttributeError)
        True
    """


class StorageError(CrmkitError, RuntimeError):
    """A store failed; adapters re-raise driver errors as subclasses of this, ``from`` the cause.

    Examples:
        >>> issubclass(StorageError, RuntimeError)
        True
    """


class NotFoundError(StorageError, LookupError):
    """A key that must exist is not in the store.

    Examples:
        >>> issubclass(NotFoundError, LookupError)
        True
    """


class ConflictError(StorageError):
    """A write conflicts with what the store holds (a concurrent writer, a key reused).

    Examples:
        >>> issubclass(ConflictError, StorageError)
        True
    """


class IntegrityError(StorageError):
    """A store's contents violate an invariant crmkit relies on.

    Examples:
        >>> issubclass(IntegrityError, StorageError)
        True
    """


class SchemaError(StorageError):
    """A store's schema is of an unknown or newer version, or a migration failed.

    Examples:
        >>> issubclass(SchemaError, StorageError)
        True
    """


class CapabilityError(StorageError, NotImplementedError):
    """An operation needs a capability the store does not declare.

    Examples:
        >>> issubclass(CapabilityError, NotImplementedError)
        True
    """


class PluginError(CrmkitError, LookupError):
    """A storage plugin is unknown (the message suggests close names) or failed to load.

    Examples:
        >>> issubclass(PluginError, LookupError)
        True
    """


class CrmkitWarning(UserWarning):
    """Root of every warning crmkit emits.

    Examples:
        >>> issubclass(DegenerateFitWarning, CrmkitWarning)
        True
    """


class DegenerateFitWarning(CrmkitWarning, RuntimeWarning):
    """A fit reached a boundary of its parameter space (e.g. s → 0, q ≤ 1); predictions may be poor.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warnings.warn("q <= 1: mean spend undefined", DegenerateFitWarning, stacklevel=1)
        >>> caught[0].category.__name__
        'DegenerateFitWarning'
    """
