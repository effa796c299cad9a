"""Sizes of the benchmark's runs: ``--quick`` for development, the defaults for the figures."""

from __future__ import annotations

from dataclasses import dataclass

# The LLM-bound rows: both hops answered by the stub after this long (a fast hosted model).
LLM_LATENCY_MS = 250
# What the runtime defaults to; the main rows run with it, the sweep varies it.
DEFAULT_MAX_IN_FLIGHT = 64
SERVICES = ("classifier", "retriever", "ticketer", "responder")


@dataclass(frozen=True)
class Sizes:
    name: str
    baseline_embedded: int
    baseline_llm: int
    baseline_hybrid: int
    sustained_embedded: int
    offered_seconds: float
    sustained_llm: int
    hybrid: int
    hop_records: int
    # Every run ends when all its requests are accounted for, or fails: after run_timeout_s in
    # all, or after stall_timeout_s without a single new answer.
    run_timeout_s: float
    stall_timeout_s: float
    warmup: int = 12
    offered_loads: tuple[int, ...] = (10, 50, 100)
    sweep: tuple[int, ...] = (1, 8, 64)
    # A stack's start (model loading) and its warm-up requests, together.
    start_timeout_s: float = 240.0


QUICK = Sizes(
    name="quick",
    baseline_embedded=50,
    baseline_llm=10,
    baseline_hybrid=30,
    sustained_embedded=100,
    offered_seconds=3.0,
    sustained_llm=50,
    hybrid=50,
    hop_records=500,
    run_timeout_s=300.0,
    stall_timeout_s=60.0,
)

# Sized so the whole benchmark stays within about 15 minutes on 2 cores even with a runtime
# that handles one record at a time (about 10 requests/s embedded, 3-4/s LLM-bound).
DEFAULT = Sizes(
    name="default",
    baseline_embedded=300,
    baseline_llm=40,
    baseline_hybrid=100,
    sustained_embedded=1000,
    offered_seconds=8.0,
    sustained_llm=150,
    hybrid=150,
    hop_records=5000,
    run_timeout_s=600.0,
    stall_timeout_s=90.0,
)
