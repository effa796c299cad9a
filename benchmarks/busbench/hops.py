"""Per hop: the runtime's consumer with a no-op handler against a raw aiokafka relay, both as
their own processes, both draining the same pre-filled input topic (own consumer groups)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from busbench.config import DEFAULT_MAX_IN_FLIGHT
from busbench.kafka_io import count_relayed, publish
from busbench.procstats import CpuMeter
from busbench.progress import say
from busbench.results import Row
from busbench.stacks import PARTITIONS, Bench
from supportbus_contracts.topics import dead_letter_topic
from supportbus_devtools.processes import terminate_group
from supportbus_runtime.broker import ensure_topics

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # benchmarks/, where busbench lives


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(_PACKAGE_DIR), os.environ.get("PYTHONPATH")) if p)
    with log.open("ab") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, *argv],
            env={**os.environ, **env, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def _measure(
    bench: Bench,
    process: subprocess.Popen[bytes],
    target: str,
    records: int,
    *,
    label: str,
    key: str,
    base: str | None,
) -> Row:
    meter = CpuMeter({label: process.pid})
    try:
        # CPU from the first relayed record on: the start (imports, group join) is not a hop.
        count = await count_relayed(
            bench.bootstrap,
            target,
            records,
            timeout_s=bench.sizes.run_timeout_s,
            stall_s=bench.sizes.stall_timeout_s,
            label=f"{label}: relayed",
            on_first=meter.start,
        )
        used = meter.stop()
        rss = meter.peak_rss()
    finally:
        await asyncio.to_thread(terminate_group, process, 20.0)
    relayed = len(count.distinct)
    first, last = count.first_ts_ms, count.last_ts_ms
    seconds = (last - first) / 1000 if first is not None and last is not None else 0.0
    row = Row(
        section="hop",
        label=label,
        n=records,
        per_s=(relayed - 1) / seconds if seconds > 0 else None,
        lost=records - relayed,
        cpu_ms=1000 * sum(used.values()) / count.after_mark if used and count.after_mark else None,
        rss_mib=sum(rss.values()) / 2**20 if rss else None,
        base=base,
        key=key,
    )
    row.notes.append(f"records/s; CPU per record over the last {count.after_mark}")
    if count.records > relayed:
        row.notes.append(f"{count.records - relayed} repeated records")
    if relayed < records:
        code = process.returncode
        row.failure = f"{records - relayed} of {records} records not relayed (exit code {code})"
    say(f"   {label}: {row.per_s or 0:.0f} records/s, lost {row.lost}")
    return row


async def hop_rows(bench: Bench) -> list[Row]:
    prefix = f"{bench.run_id}.hop."
    source = prefix + "bench.hop.in.v1"
    noop_target, raw_target = prefix + "bench.hop.out.noop.v1", prefix + "bench.hop.out.raw.v1"
    await ensure_topics(
        bench.bootstrap,
        [source, dead_letter_topic(source), noop_target, raw_target],
        partitions=PARTITIONS,
    )
    records = bench.sizes.hop_records
    say(f"-- pre-filling {source} with {records} records")
    events = bench.corpus.requests(f"{prefix}r", records)
    await publish(bench.producer, source, events, {}, label="pre-filled")
    logs = bench.work_dir / "hop" / "logs"
    timeout = bench.sizes.run_timeout_s
    raw = _start(
        [
            "-m",
            "busbench.raw_relay",
            *("--bootstrap", bench.bootstrap, "--source", source, "--target", raw_target),
            *("--group", f"{prefix}raw-relay", "--records", str(records)),
            *("--max-seconds", str(timeout)),
        ],
        {},
        logs / "raw-relay.log",
    )
    rows = [
        await _measure(
            bench,
            raw,
            raw_target,
            records,
            label="raw aiokafka relay",
            key="hop-raw",
            base="hop-raw",
        )
    ]
    noop = _start(
        ["-m", "busbench.noop_service"],
        {
            "NOOP_KAFKA_BOOTSTRAP_SERVERS": bench.bootstrap,
            "NOOP_TOPIC_PREFIX": prefix,
            "NOOP_TOPIC_PARTITIONS": str(PARTITIONS),
            "NOOP_INPUT_TOPIC": "bench.hop.in.v1",
            "NOOP_OUTPUT_TOPIC": "bench.hop.out.noop.v1",
            "NOOP_MAX_IN_FLIGHT": str(DEFAULT_MAX_IN_FLIGHT),
            "NOOP_TELEMETRY_EXPORTER": "none",
        },
        logs / "noop-service.log",
    )
    label = f"no-op service consumer (MAX_IN_FLIGHT={DEFAULT_MAX_IN_FLIGHT})"
    rows.append(
        await _measure(
            bench, noop, noop_target, records, label=label, key="hop-noop", base="hop-raw"
        )
    )
    return rows
