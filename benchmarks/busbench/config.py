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
    # At MAX_IN_FLIGHT=m an LLM-bound run sends min(sustained_llm, llm_per_slot * m) requests:
    # the first answer needs a whole pipeline latency (two 250 ms calls and four hops) while
    # the stack fills up, and a run only some windows of m long measures mostly that ramp.
    sustained_llm: int
    llm_per_slot: int
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

    def llm_run(self, max_in_flight: int) -> int:
        return min(self.sustained_llm, self.llm_per_slot * max_in_flight)


QUICK = Sizes(
    name="quick",
    baseline_embedded=50,
    baseline_llm=10,
    baseline_hybrid=30,
    sustained_embedded=100,
    offered_seconds=3.0,
    sustained_llm=100,
    llm_per_slot=4,
    hybrid=100,
    hop_records=500,
    run_timeout_s=300.0,
    stall_timeout_s=60.0,
)

# Sized for steady state: each sustained run lasts 15-40 s at the rates this runtime reaches
# on 2 cores (a fresh broker also spends its first seconds compiling its hot paths), and the
# whole benchmark stays within about 15 minutes.
DEFAULT = Sizes(
    name="default",
    baseline_embedded=300,
    baseline_llm=40,
    baseline_hybrid=100,
    sustained_embedded=3000,
    offered_seconds=20.0,
    sustained_llm=1500,
    llm_per_slot=20,
    hybrid=1500,
    hop_records=5000,
    run_timeout_s=600.0,
    stall_timeout_s=90.0,
)
