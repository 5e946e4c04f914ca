"""Progress of long work on stderr, the one way every layer shows it: a tqdm bar when stderr is
a terminal, and one plain line per finished stage when it is piped or redirected to a file (a
log then reads ``tuning 2/6 ...: accuracy 0.7812 (3.1 s)``, not a wall of carriage returns).
``enabled=False`` prints nothing at all."""

from __future__ import annotations

import sys
import time
from typing import IO, Any


def on_terminal(stream: IO[str] | None = None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class Stage:
    """One stage of long work: ``update(n)`` as it goes, ``done(summary)`` when it ends.

    On a terminal a tqdm bar (``total`` and ``unit`` as tqdm takes them; ``unit_scale`` for
    bytes); piped, ``done`` prints ``DESC: SUMMARY (T s)`` as one line. Used as a context manager
    it closes the bar even when the work fails, and prints nothing for a stage that failed."""

    def __init__(
        self,
        desc: str,
        total: float | None = None,
        unit: str = "it",
        *,
        unit_scale: bool = False,
        enabled: bool = True,
        stream: IO[str] | None = None,
    ) -> None:
        self.desc = desc
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.bar: Any = None
        if enabled and on_terminal(self.stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=unit_scale,
                desc=desc,
                file=self.stream,
                dynamic_ncols=True,
                leave=False,
            )

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def update(self, n: float = 1, note: str | None = None) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if note is not None:
                self.bar.set_postfix_str(note, refresh=False)

    def set_total(self, total: float) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def write(self, line: str) -> None:
        """One finished step as a line: above the bar on a terminal, alone when piped."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        elif self.enabled:
            print(line, file=self.stream, flush=True)

    def done(self, summary: str) -> None:
        """End the stage with a one-line summary (a terminal keeps it above the next bar)."""
        line = f"{self.desc}: {summary} ({self.seconds:.1f} s)"
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            print(line, file=self.stream, flush=True)
        elif self.enabled:
            print(line, file=self.stream, flush=True)
        self.enabled = False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.enabled = False

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
