"""Argument parsing and dispatch for the ``crmkit`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import crmkit
from crmkit.errors import CrmkitError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crmkit`` command, one sub-command per job.

    Examples:
        >>> build_parser().parse_args(["demo", "--customers", "500"]).customers
        500
    """
    parser = argparse.ArgumentParser(
        prog="crmkit",
        description=(
            "crmkit: the analytic and rules core of a CRM for online shops. "
            "Run 'crmkit demo' to build a synthetic shop into an SQLite store and walk the "
            "whole pipeline."
        ),
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="build a synthetic shop into an SQLite store and print a report of every step",
        description=(
            "Generate a deterministic synthetic shop (multi-channel source records, orders, "
            "events, consents, returns), write it into the embedded SQLite store, read it back "
            "as columns, and run every analytic step: a readable report on stdout, progress on "
            "stderr."
        ),
    )
    demo.add_argument(
        "--db",
        default="crmkit-demo.sqlite",
        help="SQLite file to write (replaced if it exists; default: %(default)s)",
    )
    demo.add_argument(
        "--customers",
        type=_positive,
        default=20_000,
        help="number of persons in the synthetic shop (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="seed of the generator (default: %(default)s)"
    )
    demo.set_defaults(handler=_run_demo)

    report = sub.add_parser(
        "report",
        help="print the shop report (customers, records, orders, revenue, events, consents)",
        description="Read an existing store and print the shop report.",
    )
    report.add_argument("url", help="store URL, e.g. sqlite:///crmkit-demo.sqlite or memory://")
    report.set_defaults(handler=_run_report)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {value})")
    return value


def _run_demo(args: argparse.Namespace) -> int:
    from crmkit.cli._demo import run_demo

    run_demo(db=args.db, n_customers=args.customers, seed=args.seed, out=sys.stdout)
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from crmkit.cli._demo import shop_report
    from crmkit.storage import connect

    store = connect(args.url)
    try:
        sys.stdout.write(shop_report(store) + "\n")
    finally:
        store.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crmkit`` command; returns the process exit code.

    crmkit errors are printed as one line on stderr with exit code 2; anything else is a bug and
    propagates with its traceback.

    Examples:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        crmkit ...
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(f"crmkit {crmkit.__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        code: int = args.handler(args)
    except CrmkitError as exc:
        print(f"crmkit: error: {exc}", file=sys.stderr)
        return 2
    return code
