"""Collapsing the Kafka client's repeated complaints while the broker is away.

During a broker outage aiokafka logs every reconnect attempt, metadata refresh, fetch and
heartbeat failure at WARNING/ERROR: 1,600-2,200 lines per service in a 10-second outage, which
buries everything else and costs CPU. This filter lets the first line of each kind through,
counts the repeats for ``window_s``, and lets the next one through with the count, so an
outage reads as a handful of lines with how often each thing happened. Our own outage log
(:mod:`supportbus_runtime.outage`) says when publishing stopped and resumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

_NOISY_PREFIX = "aiokafka"


class RepeatedLogFilter(logging.Filter):
    """Passes one record per (logger, message template) every ``window_s``; the one that
    passes after a quiet spell carries how many were held back."""

    def __init__(
        self,
        window_s: float = 30.0,
        *,
        prefix: str = _NOISY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._prefix = prefix
        self._clock = clock
        self._lock = threading.Lock()
        self._last_passed: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefix):
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        with self._lock:
            last = self._last_passed.get(key)
            if last is not None and now - last < self._window_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last_passed[key] = now
            held = self._held.pop(key, 0)
        if held:
            record.msg = (
                f"{record.getMessage()} (and {held} more like it in the last "
                f"{self._window_s:g} s, not logged)"
            )
            record.args = None
        return True
