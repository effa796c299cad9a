"""Benchmark: throughput and latency of the real stack (helpdesk + the four services as OS
processes on a local Kafka broker) against the same service logic called in sequence in one
process, embedded and LLM-bound, with a MAX_IN_FLIGHT sweep, per-hop overhead, CPU per
request and peak RSS per process. Every bus run checks that no request was lost and no ticket
was opened twice; the exit code is non-zero if one was.

    uv run --frozen python benchmarks/throughput.py [--quick] [--out-dir DIR]

Writes DIR/throughput.md (the table) and DIR/throughput.png (default DIR: docs/). Uses
KAFKA_BOOTSTRAP_SERVERS when set, otherwise starts a local broker. The code is in
benchmarks/busbench/.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The package lives beside this script; make it importable however the script is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from busbench.main import main

if __name__ == "__main__":
    sys.exit(main())
