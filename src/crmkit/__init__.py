"""crmkit: the analytic and rules core of a CRM for online shops.

Examples:
    >>> import crmkit
    >>> isinstance(crmkit.__version__, str)
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from crmkit.errors import CrmkitError

if TYPE_CHECKING:
    from crmkit.storage import connect

__all__ = ["CrmkitError", "__version__", "connect"]

try:
    __version__: str = version("crmkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    # ``connect`` lives in crmkit.storage; imported lazily so ``import crmkit`` stays cheap.
    if name == "connect":
        from crmkit.storage import connect

        return connect
    raise AttributeError(f"module 'crmkit' has no attribute {name!r}")
