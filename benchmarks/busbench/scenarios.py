"""The runs on each stack configuration: warm-up, the sequential baselines that share its
helpdesk, the sustained and offered-load runs."""

from __future__ import annotations

from busbench.baseline import Local, Providers, run_baseline
from busbench.busrun import RunSpec, bus_run
from busbench.config import DEFAULT_MAX_IN_FLIGHT
from busbench.results import Row
from busbench.stacks import Bench, RunningStack, llm_env, max_in_flight_env, running_stack
from supportbus_llm_stub.testing import StubServer


async def _warm(running: RunningStack, rows: list[Row]) -> bool:
    """Requests that prove every process is up, subscribed and warm; checked like any run."""
    sizes = running.bench.sizes
    spec = RunSpec(
        section="warm-up",
        label=f"warm-up ({running.label})",
        slug="warmup",
        n=sizes.warmup,
        timeout_s=sizes.start_timeout_s,
        stall_s=sizes.start_timeout_s,
    )
    row = await bus_run(running, spec)
    if row.failed:
        rows.append(row)  # only a failed warm-up is worth a row
    return not row.failed


async def embedded_stack(bench: Bench, local: Local, rows: list[Row]) -> None:
    sizes = bench.sizes
    env = max_in_flight_env(DEFAULT_MAX_IN_FLIGHT)
    async with running_stack(bench, "embedded", env) as running:
        if not await _warm(running, rows):
            return
        rows.append(
            await run_baseline(
                local,
                Providers(),
                bench.corpus.requests(f"{running.prefix}base", sizes.baseline_embedded),
                bench.corpus.requests(f"{running.prefix}basewarm", 3),
                label="sequential, embedded models",
                key="base-embedded",
                helpdesk=running.stack.config,
                helpdesk_pid=running.stack.pids().get("helpdesk"),
                timeout_s=sizes.run_timeout_s,
            )
        )
        section = "bus, embedded"
        rows.append(
            await bus_run(
                running,
                RunSpec(
                    section,
                    f"sustained, MAX_IN_FLIGHT={DEFAULT_MAX_IN_FLIGHT}",
                    "sustained",
                    sizes.sustained_embedded,
                    base="base-embedded",
                    key="bus-embedded",
                ),
            )
        )
        for rate in sizes.offered_loads:
            rows.append(
                await bus_run(
                    running,
                    RunSpec(
                        section,
                        f"offered {rate}/s for {sizes.offered_seconds:g} s",
                        f"offered{rate}",
                        int(rate * sizes.offered_seconds),
                        rate=float(rate),
                        base="base-embedded",
                    ),
                )
            )


async def llm_stack(
    bench: Bench,
    local: Local,
    stub: StubServer,
    rows: list[Row],
    *,
    classifier: str,
    max_in_flight: int,
    with_baselines: bool = False,
) -> None:
    sizes = bench.sizes
    slug = f"{classifier}-mif{max_in_flight}"
    env = {
        **llm_env(stub, classifier=classifier, composer="llm"),
        **max_in_flight_env(max_in_flight),
    }
    base_key = f"base-{classifier}"
    async with running_stack(bench, slug, env, stub) as running:
        if not await _warm(running, rows):
            return
        if with_baselines:
            for kind, count in (("llm", sizes.baseline_llm), ("hybrid", sizes.baseline_hybrid)):
                rows.append(
                    await run_baseline(
                        local,
                        Providers(classifier=kind, composer="llm", llm_base_url=stub.base_url),
                        bench.corpus.requests(f"{running.prefix}base{kind}", count),
                        bench.corpus.requests(f"{running.prefix}basewarm{kind}", 2),
                        label=f"sequential, {kind} classifier + llm composer",
                        key=f"base-{kind}",
                        helpdesk=running.stack.config,
                        helpdesk_pid=running.stack.pids().get("helpdesk"),
                        timeout_s=sizes.run_timeout_s,
                    )
                )
        hybrid = classifier == "hybrid"
        label = f"{classifier} classifier + llm composer, MAX_IN_FLIGHT={max_in_flight}"
        rows.append(
            await bus_run(
                running,
                RunSpec(
                    "bus, LLM-bound",
                    label,
                    "sustained",
                    sizes.hybrid if hybrid else sizes.llm_run(max_in_flight),
                    base=base_key,
                    key=f"bus-{slug}",
                    llm_calls_expected=None if hybrid else 2.0,
                    max_in_flight=None if hybrid else max_in_flight,
                ),
            )
        )
