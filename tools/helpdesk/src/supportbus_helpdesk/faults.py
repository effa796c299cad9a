"""Test-only fault injection for ``POST /v1/tickets``, so a client's retry policy can be tested
against the real server.

Off by default; the server honours all of it only when started with
``HELPDESK_FAULTS_ENABLED=true`` (otherwise the header, the rates and ``/_faults`` do not exist).

Per request, the ``X-Fault`` header holds comma-separated directives:

* ``500`` — answer ``500 {"error": "injected_fault", ...}`` without creating anything.
* ``delay=1.5`` — sleep that many seconds (at most ``MAX_DELAY_S``) before handling the
  request normally; combine with a short client timeout to test "timed out, but created".
* ``delay=1.5,500`` — sleep, then fail.

Rate-based faults hit a steady fraction of creates without the client's cooperation (chaos
tests). They start from ``HELPDESK_FAULTS_5XX_RATE``, ``HELPDESK_FAULTS_SLOW_CREATE_RATE`` and
``HELPDESK_FAULTS_SLOW_CREATE_S`` and can be changed while the server runs (``/_faults``):

* 5xx: that fraction of creates answers ``503 {"error": "injected_fault", ...}`` before anything
  is written. 503 rather than 500 because it is what a load balancer in front of an overloaded
  helpdesk answers, and clients must treat it as "retry later, nothing happened".
* slow create: that fraction of the creates that write a new ticket commits it first and answers
  only ``slow_create_s`` later ("timed out but created"). Replays are answered at once, so the
  client's retry with the same ``Idempotency-Key`` gets the ticket back even while the first
  answer is still pending. The wait holds neither the store's lock nor a worker thread.

A request that carries a (non-empty) ``X-Fault`` header gets exactly what the header asks for
and no rate-based fault on top, so header-driven tests stay deterministic while rates are on.
``HELPDESK_FAULTS_SEED`` seeds the random stream; with sequential requests the same seed gives
the same faults.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from dataclasses import dataclass, replace

from supportbus_helpdesk.errors import InjectedFault, InjectedUnavailable, InvalidFaultDirective

MAX_DELAY_S = 30.0


@dataclass(frozen=True, slots=True)
class FaultPlan:
    delay_s: float = 0.0
    fail_with_500: bool = False

    @property
    def injects_anything(self) -> bool:
        return self.delay_s > 0 or self.fail_with_500

    async def apply(self) -> None:
        """Run the planned faults. Called before any write, so a failure never creates."""
        if self.delay_s > 0:
            # An async sleep ties up neither a worker thread nor the store.
            await asyncio.sleep(self.delay_s)
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


@dataclass(frozen=True, slots=True)
class FaultRates:
    """The rate-based faults in force. Validated where they come in (settings, ``PUT /_faults``)."""

    rate_5xx: float = 0.0
    slow_create_rate: float = 0.0
    slow_create_s: float = 5.0


@dataclass(frozen=True, slots=True)
class FaultCounters:
    injected_5xx: int = 0
    injected_slow_create: int = 0
    injected_header: int = 0
    creates: int = 0
    replays: int = 0


class FaultInjector:
    """Rate-based faults plus counters, shared by all requests of one app.

    Requests run concurrently (event loop and thread pool), so every read-modify-write of the
    rates, the counters and the random stream happens under one lock. Each decision draws
    exactly one number, which keeps a seeded stream aligned with the sequence of requests.
    """

    def __init__(self, rates: FaultRates, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rates = rates
        self._counters = FaultCounters()
        self._random = random.Random(seed)

    def snapshot(self) -> tuple[FaultRates, FaultCounters]:
        with self._lock:
            return self._rates, self._counters

    def update_rates(
        self,
        *,
        rate_5xx: float | None = None,
        slow_create_rate: float | None = None,
        slow_create_s: float | None = None,
    ) -> FaultRates:
        """Change the given rates (``None`` keeps a value); returns the rates now in force."""
        with self._lock:
            self._rates = FaultRates(
                rate_5xx=self._rates.rate_5xx if rate_5xx is None else rate_5xx,
                slow_create_rate=(
                    self._rates.slow_create_rate if slow_create_rate is None else slow_create_rate
                ),
                slow_create_s=self._rates.slow_create_s if slow_create_s is None else slow_create_s,
            )
            return self._rates

    def reset_counters(self) -> None:
        with self._lock:
            self._counters = FaultCounters()

    def record_header_fault(self) -> None:
        with self._lock:
            self._count(injected_header=self._counters.injected_header + 1)

    def before_create(self) -> None:
        """Raise ``InjectedUnavailable`` for the 5xx fraction; called before anything is written."""
        with self._lock:
            # random() is in [0, 1), so a rate of 1.0 always hits and 0.0 never does.
            hit = self._random.random() < self._rates.rate_5xx
            if hit:
                self._count(injected_5xx=self._counters.injected_5xx + 1)
        if hit:
            raise InjectedUnavailable("unavailability injected by HELPDESK_FAULTS_5XX_RATE")

    def after_create(self, *, created: bool, rate_faults: bool = True) -> float:
        """Count the outcome of a create; return how long to hold back the answer (0: none).

        Only a create that wrote a new ticket is slowed: the fault models "the write happened,
        the answer got lost", and a prompt replay is what lets the client recover from it.
        """
        with self._lock:
            if not created:
                self._count(replays=self._counters.replays + 1)
                return 0.0
            self._count(creates=self._counters.creates + 1)
            if not rate_faults or self._random.random() >= self._rates.slow_create_rate:
                return 0.0
            self._count(injected_slow_create=self._counters.injected_slow_create + 1)
            return self._rates.slow_create_s

    def _count(self, **changes: int) -> None:
        # Caller holds the lock. Counters are an immutable value so snapshot() can hand out a
        # consistent set without copying.
        self._counters = replace(self._counters, **changes)
