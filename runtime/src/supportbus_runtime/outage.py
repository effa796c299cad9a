"""Logging a dependency outage once, not once per failed attempt.

With 64 records in flight, each retrying a publish every few seconds, a broker outage of a minute
would otherwise write thousands of identical ERROR lines. One line when the outage starts, a
reminder every ``remind_every_s`` while it lasts, one summary when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class OutageLog:
    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        remind_every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._remind_every_s = remind_every_s
        self._clock = clock
        self._since: float | None = None
        self._last_line = 0.0
        self._failures = 0
        self._last_reason = ""

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, reason: str) -> None:
        now = self._clock()
        self._failures += 1
        self._last_reason = reason
        if self._since is None:
            self._since = self._last_line = now
            self._log.error("%s failed (%s); retrying until it works", self._what, reason)
        elif now - self._last_line >= self._remind_every_s:
            self._last_line = now
            self._log.error(
                "%s still failing after %.0f s (%d failed attempts; last: %s)",
                self._what,
                now - self._since,
                self._failures,
                reason,
            )

    def succeeded(self) -> None:
        if self._since is None:
            return
        self._log.warning(
            "%s works again after %.1f s (%d failed attempts; last: %s)",
            self._what,
            self._clock() - self._since,
            self._failures,
            self._last_reason,
        )
        self._since = None
        self._failures = 0
