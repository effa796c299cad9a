"""One row of the benchmark's table, whatever produced it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    section: str
    label: str
    n: int | None = None
    per_s: float | None = None  # requests/s, records/s for the hop rows
    p50_ms: float | None = None
    p99_ms: float | None = None
    lost: int | None = None  # None where nothing can be lost (CPU rows)
    dup_tickets: int | None = None
    cpu_ms: float | None = None  # CPU per request (per record for the hop rows)
    rss_mib: float | None = None
    # The row this one is compared with (its key), and this row's own key.
    base: str | None = None
    key: str | None = None
    compare_throughput: bool = True  # False: throughput is set by the offered load
    notes: list[str] = field(default_factory=list)
    failure: str | None = None  # why the run failed: a timeout, a stack that died, ...
    # For the plot.
    max_in_flight: int | None = None
    offered: int | None = None
    # Per measured process: CPU seconds per request, and the peak RSS in bytes.
    cpu_by_process: dict[str, float] = field(default_factory=dict)
    rss_by_process: dict[str, int] = field(default_factory=dict)
    # Measured but not the stack's own cost (the LLM stub): CPU seconds per request.
    apart_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.failure) or bool(self.lost) or bool(self.dup_tickets)
