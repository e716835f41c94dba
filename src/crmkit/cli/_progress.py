"""A dependency-free progress bar for long CLI steps (stderr; plain lines when not a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Draws ``label [#####-----]  50%  1.2s`` on a terminal; on a pipe, one line when done.

    Examples:
        >>> import io
        >>> out = io.StringIO()
        >>> with Progress.task("loading", total=4, stream=out) as bar:
        ...     for _ in range(4):
        ...         bar.advance()
        >>> out.getvalue().startswith("loading: done")
        True
    """

    def __init__(self, label: str, total: int, stream: TextIO, width: int = 30) -> None:
        self.label, self.total, self.stream, self.width = label, max(total, 1), stream, width
        self.done = 0
        self.started = time.perf_counter()
        self.tty = stream.isatty()

    @classmethod
    @contextmanager
    def task(cls, label: str, total: int = 1, stream: TextIO | None = None) -> Iterator[Progress]:
        """A progress bar for one step, finished (and timed) when the block ends."""
        bar = cls(label, total, stream if stream is not None else sys.stderr)
        bar.draw()
        yield bar
        bar.finish()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` more units of work done."""
        self.done = min(self.done + n, self.total)
        self.draw()

    def draw(self) -> None:
        """Redraw the bar in place (terminals only)."""
        if not self.tty:
            return
        frac = self.done / self.total
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{self.label} [{bar}] {frac:4.0%} {elapsed:5.1f}s")
        self.stream.flush()

    def finish(self) -> None:
        """Complete the bar and print the elapsed time."""
        self.done = self.total
        elapsed = time.perf_counter() - self.started
        if self.tty:
            self.draw()
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.label}: done in {elapsed:.1f}s\n")
        self.stream.flush()
