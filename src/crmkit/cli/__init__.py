"""The ``crmkit`` command line: a demo of the whole pipeline, and reports over a store.

Run ``crmkit --help`` (or ``python -m crmkit --help``) for the commands.

Examples:
    >>> from crmkit.cli import main
    >>> main(["--version"]) == 0  # doctest: +ELLIPSIS
    crmkit ...
    True
"""

from __future__ import annotations

from crmkit.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
