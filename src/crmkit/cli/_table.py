"""Plain-text tables and headings for CLI reports."""

from __future__ import annotations

from collections.abc import Sequence


def heading(title: str) -> str:
    """A section heading underlined to its width.

    Examples:
        >>> print(heading("Orders"))
        <BLANKLINE>
        Orders
        ======
    """
    return f"\n{title}\n{'=' * len(title)}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as an aligned text table; numbers right-aligned, text left-aligned.

    Examples:
        >>> print(table(["month", "orders"], [["2024-01", 12], ["2024-02", 7]]))
        month    orders
        -------  ------
        2024-01      12
        2024-02       7
    """
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) for r in rows) for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
