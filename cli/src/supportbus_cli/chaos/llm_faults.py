"""Faults in the LLM stand-in: for a while it answers from a script of bad answers (429s, 5xx),
with the stub's own counts as proof, and for a storm proof that the breaker opened and closed."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from supportbus_cli.chaos.environment import ScenarioEnv
from supportbus_cli.chaos.faults import Fault, FaultNotInjected, FaultRecord, run_in_thread
from supportbus_cli.chaos.publisher import start_producer
from supportbus_contracts import RequestReceived, SupportRequest
from supportbus_contracts.topics import REQUEST_RECEIVED
from supportbus_runtime.broker import EventRecord

StepMaker = Callable[[random.Random, int], list[dict[str, Any]]]


def llm_script(make_steps: StepMaker, kind: str, *, breaker: bool = False) -> Fault:
    """For ``fault_s`` the LLM stub answers from a script of bad answers (429s, 5xx), then
    valid ones again; proof is the stub's count of what it served, and for a storm that the
    breaker opened and closed again."""

    async def fault(env: ScenarioEnv) -> FaultRecord:
        stub = env.shared.stub
        if stub is None:
            raise FaultNotInjected("LLM faults need the LLM stub")
        # More bad answers than the fault can use up: the fault ends by the clock, not by them.
        steps = make_steps(random.Random(7), 20_000)
        started = time.time()
        await run_in_thread(stub.script, steps, {"kind": "echo_valid"})
        try:
            await asyncio.sleep(env.fault_s)
            stats = await run_in_thread(stub.stats)
        finally:
            await run_in_thread(stub.script, [], {"kind": "echo_valid"})
        ended = time.time()
        count = int(stats.get("by_kind", {}).get(kind, 0))
        detail = f"LLM endpoint for {env.fault_s:g} s: {count} {kind} served"
        if not breaker:
            return FaultRecord(started, ended, count > 0, detail)
        # The breaker opened (answers fell back with circuit_open) and closed again after its
        # cooldown (answers composed by the LLM once more), within a bounded wait.
        closed_again = await _llm_answers_after(env, ended, wait_s=30.0)
        opened = sum(n for tag, n in env.sightings.fallbacks.items() if "circuit_open" in tag)
        return FaultRecord(
            started,
            ended,
            count > 0 and opened > 0 and closed_again,
            f"{detail}; breaker open for {opened} answers, closed again: {closed_again}",
        )

    return fault


async def _llm_answers_after(env: ScenarioEnv, since: float, *, wait_s: float) -> bool:
    """Whether an answer composed by the LLM shows up after ``since`` within ``wait_s``.

    The breaker closes only on a call made after its cooldown; if the run's own requests are all
    answered by then, nothing would make one. So a probe request (its own id, not one of the
    run's) is published every two seconds until such an answer shows up."""
    deadline = time.time() + wait_s
    producer = await start_producer(env.shared.bootstrap)
    try:
        probes = 0
        next_probe = time.time()
        while time.time() < deadline:
            if any(at > since for at in env.sightings.llm_answers_after.values()):
                return True
            if time.time() >= next_probe:
                probes += 1
                await _publish_probe(producer, env, probes)
                next_probe = time.time() + 2.0
            await asyncio.sleep(0.5)
        return False
    finally:
        await producer.stop()


async def _publish_probe(producer: AIOKafkaProducer, env: ScenarioEnv, n: int) -> None:
    event = RequestReceived(
        request_id=f"{env.prefix.rstrip('.').replace('.', '-')}-probe-{n}",
        request=SupportRequest(
            channel="api", customer_id="cus_probe", body="How do I change my card PIN?"
        ),
        producer="supportbus-chaos",
    )
    record = EventRecord.of(event)
    headers = [(k, v.encode()) for k, v in record.headers.items()]
    await producer.send_and_wait(
        env.prefix + REQUEST_RECEIVED, record.value, key=record.key, headers=headers
    )


def rate_limit_storm(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [{"kind": "rate_limit", "retry_after": 1} for _ in range(count)]


def errors_30_percent(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {"kind": "error", "status": 503} if rng.random() < 0.3 else {"kind": "echo_valid"}
        for _ in range(count)
    ]
