"""Test-only fault injection for ``POST /v1/tickets``, so a client's retry policy can be tested
against the real server.

Off by default; the server honours it only when started with ``HELPDESK_FAULTS_ENABLED=true``
(otherwise the header is ignored). The ``X-Fault`` header holds comma-separated directives:

* ``500`` — answer ``500 {"error": "injected_fault", ...}`` without creating anything.
* ``delay=1.5`` — sleep that many seconds (at most ``MAX_DELAY_S``) before handling the
  request normally; combine with a short client timeout to test "timed out, but created".
* ``delay=1.5,500`` — sleep, then fail.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from supportbus_helpdesk.errors import InjectedFault, InvalidFaultDirective

MAX_DELAY_S = 30.0


@dataclass(frozen=True, slots=True)
class FaultPlan:
    delay_s: float = 0.0
    fail_with_500: bool = False

    def apply(self) -> None:
        """Run the planned faults. Called before any write, so a failure never creates."""
        if self.delay_s > 0:
            # Endpoints are sync and run in the worker thread pool, so sleeping here blocks
            # only this request.
            time.sleep(self.delay_s)
        if self.fail_with_500:
            raise InjectedFault("failure injected by the X-Fault header")


def parse_fault_header(value: str) -> FaultPlan:
    delay_s = 0.0
    fail_with_500 = False
    for directive in (part.strip() for part in value.split(",")):
        if directive == "500":
            fail_with_500 = True
        elif directive.startswith("delay="):
            delay_s = _parse_delay(directive.removeprefix("delay="))
        elif directive:
            raise InvalidFaultDirective(
                f"unknown X-Fault directive {directive!r}; use '500' or 'delay=<seconds>'"
            )
    return FaultPlan(delay_s=delay_s, fail_with_500=fail_with_500)


def _parse_delay(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise InvalidFaultDirective(f"X-Fault delay {text!r} is not a number") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_DELAY_S:
        raise InvalidFaultDirective(f"X-Fault delay must be between 0 and {MAX_DELAY_S} seconds")
    return seconds
