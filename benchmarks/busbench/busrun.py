"""One run on a running stack: publish N requests (as fast as accepted, or at an offered rate),
wait until each is answered or dead-lettered, then check and measure."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from busbench.checks import TicketCheck, check_tickets, percentile
from busbench.kafka_io import publish
from busbench.procstats import CpuMeter
from busbench.progress import Counter as ProgressCounter
from busbench.progress import say
from busbench.results import Row
from busbench.stacks import RunningStack
from supportbus_devtools.stack import StackError


@dataclass(frozen=True)
class RunSpec:
    section: str
    label: str
    slug: str  # part of the request ids
    n: int
    rate: float | None = None  # None: as fast as the producer accepts
    base: str | None = None
    key: str | None = None
    llm_calls_expected: float | None = None  # per request, when every answer is valid
    max_in_flight: int | None = None
    timeout_s: float | None = None  # overrides the size's run timeout (warm-up)
    stall_s: float | None = None


async def _wait_accounted(
    running: RunningStack, ids: list[str], timeout_s: float, stall_s: float, label: str
) -> str | None:
    """Until every request is answered or dead-lettered; the reason when it is not."""
    outcomes = running.watcher.outcomes
    progress = ProgressCounter(f"{label}: accounted", len(ids))
    started = last_new_at = time.monotonic()
    done = 0
    while True:
        running.watcher.check()
        try:
            running.stack.check_alive()
        except StackError as error:
            return f"a process died: {str(error).splitlines()[0]}"
        now_done = sum(1 for r in ids if outcomes.accounted(r))
        now = time.monotonic()
        if now_done != done:
            done, last_new_at = now_done, now
            progress.update(done, f"({now - started:.0f} s)")
        if done == len(ids):
            return None
        if now - started > timeout_s:
            return f"TIMEOUT: {len(ids) - done} of {len(ids)} unaccounted after {timeout_s:.0f} s"
        if now - last_new_at > stall_s:
            return f"STALLED: no answer for {stall_s:.0f} s, {len(ids) - done} unaccounted"
        await asyncio.sleep(0.1)


async def bus_run(running: RunningStack, spec: RunSpec) -> Row:
    bench = running.bench
    events = bench.corpus.requests(f"{running.prefix}{spec.slug}", spec.n)
    ids = [e.request_id for e in events]
    how = "as fast as accepted" if spec.rate is None else f"at {spec.rate:g}/s"
    say(f"-- {spec.label}: {spec.n} requests {how}")
    meter = CpuMeter(running.measured_pids())
    # The stub stands for a remote provider: measured, but apart from the stack's own cost.
    stub_pid = running.stub.pid if running.stub else None
    stub_meter = CpuMeter({"llm stub": stub_pid} if stub_pid else {})
    stub_meter.start()
    stub_before = running.stub.stats()["answered"] if running.stub else 0
    url = running.stack.config.helpdesk_url
    auth = running.stack.config.helpdesk_keys.operator_headers()
    # Duplicates the helpdesk already held (an earlier run's) are not this run's.
    before = await asyncio.to_thread(check_tickets, url, [], auth)
    sent_at: dict[str, float] = {}
    meter.start()
    publishing = asyncio.create_task(
        publish(
            bench.producer,
            running.request_topic,
            events,
            sent_at,
            rate=spec.rate,
            label=f"{spec.label}: published",
        )
    )
    failure = await _wait_accounted(
        running,
        ids,
        spec.timeout_s or bench.sizes.run_timeout_s,
        spec.stall_s or bench.sizes.stall_timeout_s,
        spec.label,
    )
    used = meter.stop()
    stub_used = stub_meter.stop()
    if not publishing.done():
        publishing.cancel()
    try:
        await publishing
    except asyncio.CancelledError:
        failure = failure or "publishing did not finish"
    stub_calls = (running.stub.stats()["answered"] - stub_before) if running.stub else 0
    after = await asyncio.to_thread(check_tickets, url, ids, auth)
    tickets = (before, after)
    row = _row(running, spec, ids, sent_at, used, meter, stub_calls, tickets, failure)
    row.apart_cpu = {name: seconds / len(ids) for name, seconds in stub_used.items()}
    return row


def _row(
    running: RunningStack,
    spec: RunSpec,
    ids: list[str],
    sent_at: dict[str, float],
    used: dict[str, float],
    meter: CpuMeter,
    stub_calls: int,
    tickets_before_after: tuple[TicketCheck, TicketCheck],
    failure: str | None,
) -> Row:
    outcomes = running.watcher.outcomes
    answered = [r for r in ids if r in outcomes.answered_at]
    dead = [r for r in ids if r in outcomes.dead and r not in outcomes.answered_at]
    lost = len(ids) - len(answered) - len(dead)
    latencies = [(outcomes.answered_at[r] - sent_at[r]) * 1000 for r in answered if r in sent_at]
    span = (
        max(outcomes.answered_at[r] for r in answered) - min(sent_at.values())
        if answered and sent_at
        else 0.0
    )
    before, tickets = tickets_before_after
    # Two views of one fact: this run's request ids in the listing, and the helpdesk's total
    # against its distinct request ids (which also catches a late repeat of an earlier request).
    duplicates = max(tickets.duplicates, tickets.helpdesk_duplicates - before.helpdesk_duplicates)
    row = Row(
        section=spec.section,
        label=spec.label,
        n=len(ids),
        per_s=len(answered) / span if span > 0 else None,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        lost=lost,
        dup_tickets=duplicates,
        cpu_ms=1000 * sum(used.values()) / len(ids) if used else None,
        base=spec.base,
        key=spec.key,
        compare_throughput=spec.rate is None,
        failure=failure,
        max_in_flight=spec.max_in_flight,
        offered=int(spec.rate) if spec.rate else None,
    )
    row.cpu_by_process = {name: seconds / len(ids) for name, seconds in used.items()}
    row.rss_by_process = meter.peak_rss()
    if dead:
        row.notes.append(f"{len(dead)} dead-lettered")
    if tickets.for_run - tickets.duplicates != len(answered):
        row.notes.append(f"{tickets.for_run} tickets for {len(answered)} answers")
    repeats = sum(outcomes.responses[r] - 1 for r in answered)
    if repeats:
        row.notes.append(f"{repeats} redelivered answers")
    if running.stub is not None:
        calls = stub_calls / len(ids)
        row.notes.append(f"LLM calls/req {calls:.2f}")
        if spec.llm_calls_expected is not None:
            # A request handed to a person gets a holding reply, composed without the LLM.
            handed_off = sum(1 for r in answered if outcomes.details[r][0] == "handoff")
            expected = spec.llm_calls_expected - handed_off / len(ids)
            if handed_off:
                row.notes.append(f"{handed_off} handed off")
            if abs(calls - expected) > 1e-9:
                row.notes.append(f"expected {expected:.2f}: repair calls or retries")
    tags = Counter(t for r in answered for t in outcomes.details[r][1])
    if tags:
        row.notes.append("fallbacks " + ", ".join(f"{t} {c}" for t, c in sorted(tags.items())))
    say(f"   {spec.label}: {_summary(row)}")
    return row


def _summary(row: Row) -> str:
    parts = [f"{row.per_s:.1f}/s" if row.per_s else "-/s"]
    if row.p50_ms is not None and row.p99_ms is not None:
        parts.append(f"p50 {row.p50_ms:.0f} ms, p99 {row.p99_ms:.0f} ms")
    parts.append(f"lost {row.lost}, duplicate tickets {row.dup_tickets}")
    parts += row.notes
    if row.failure:
        parts.append(f"FAILED: {row.failure}")
    return "; ".join(parts)
