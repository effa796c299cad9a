"""Progress on stderr, one plain line at a time (the benchmark runs for minutes, often in logs):
a line per phase, and counts while a run is under way."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


class Phases:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def start(self, title: str) -> None:
        self.done += 1
        say(f"== phase {self.done}/{self.total}: {title}")


class Counter:
    """Prints ``label: done/total`` at every tenth of the work and at least every few seconds,
    so a slow run is visibly alive and a fast one does not flood the log."""

    def __init__(self, label: str, total: int, every_s: float = 5.0) -> None:
        self.label = label
        self.total = max(total, 1)
        self._every_s = every_s
        self._last_tenth = -1
        self._last_time = time.monotonic()

    def update(self, done: int, extra: str = "") -> None:
        tenth = 10 * done // self.total
        now = time.monotonic()
        if tenth > self._last_tenth or now - self._last_time >= self._every_s:
            self._last_tenth, self._last_time = tenth, now
            suffix = f" {extra}" if extra else ""
            say(f"   {self.label}: {done}/{self.total}{suffix}")
