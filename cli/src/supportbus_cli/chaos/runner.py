"""One chaos scenario, start to finish: its own topics, helpdesk and services; requests at a
steady rate; the fault mid-run; the wait until every request is accounted for (or nothing
moves any more); the audit."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from supportbus_cli.chaos.environment import (
    HELPDESK_LINK,
    LLM_LINK,
    WEAVIATE_LINKS,
    ScenarioEnv,
    SharedServers,
)
from supportbus_cli.chaos.faults import FaultNotInjected, FaultRecord
from supportbus_cli.chaos.ledger import Audit, OutcomeWatcher, audit
from supportbus_cli.chaos.publisher import PublishLog, publish_steadily, start_producer
from supportbus_cli.chaos.scenarios import TICKETER_TIMEOUT_S, Scenario
from supportbus_cli.chaos.timeline import Recovery, recovery
from supportbus_cli.progress import console
from supportbus_contracts import RequestReceived, SupportRequest
from supportbus_contracts.topics import REQUEST_RECEIVED
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.stack import SERVICES, Stack, StackConfig
from supportbus_runtime.broker import ensure_topics

Channel = Literal["email", "chat", "api", "web"]
CHANNELS: tuple[Channel, ...] = ("email", "chat", "api", "web")
PARTITIONS = 6


@dataclass(frozen=True)
class ChaosOptions:
    work_dir: Path
    texts: Sequence[str]  # request bodies to draw from (Banking77)
    artifact_env: dict[str, str] = field(default_factory=dict)
    requests: int = 1000
    rate: float = 20.0  # requests/s offered (lower for outages, so requests follow the outage)
    seed: int = 7
    fault_s: float = 20.0  # how long a toxic or a fault switch stays on
    outage_s: float = 60.0
    restart_after_s: float = 3.0
    stall_s: float = 90.0  # settling gives up after this long without a new outcome


@dataclass(frozen=True)
class Row:
    scenario: str
    requests: int
    published: int
    audit: Audit | None
    fault: FaultRecord | None
    died: tuple[str, ...]
    recovery: Recovery | None
    expect_dead_letters: bool
    skipped: str = ""
    error: str = ""

    @property
    def problems(self) -> list[str]:
        """What makes this row a failure (empty: it passed)."""
        if self.skipped:
            return []
        found = [self.error] if self.error else []
        if self.published < self.requests:
            found.append(f"{self.requests - self.published} requests never acknowledged")
        if self.fault is None or not self.fault.happened:
            found.append("the fault did not happen")
        if self.died:
            found.append(f"died on their own: {', '.join(self.died)}")
        a = self.audit
        if a is None:
            return found or ["no audit"]
        if a.lost:
            found.append(f"{len(a.lost)} lost (e.g. {', '.join(a.lost[:3])})")
        if a.tickets.duplicates:
            found.append(f"{a.tickets.duplicates} duplicate tickets")
        if a.dead and not self.expect_dead_letters:
            found.append(f"{a.dead} dead-lettered")
        if self.expect_dead_letters and not any("budget" in r for r in a.dead_by_reason):
            found.append("no dead letter says the retry budget ran out")
        return found


def budget_env(options: ChaosOptions) -> dict[str, str]:
    """outage-past-budget: a retry budget a third of the outage, so the outage outlasts it."""
    return {"TICKETER_RETRY_BUDGET_S": f"{max(options.outage_s / 3, 1.0):g}"}


def _requests(options: ChaosOptions, prefix: str) -> list[RequestReceived]:
    rng = random.Random(options.seed)
    return [
        RequestReceived(
            request_id=f"{prefix.rstrip('.').replace('.', '-')}-{n:05d}",
            request=SupportRequest(
                channel=CHANNELS[n % 4],
                customer_id=f"cus_{n:05d}",
                body=rng.choice(options.texts),
            ),
            producer="supportbus-chaos",
        )
        for n in range(options.requests)
    ]


def _fault_length(scenario: Scenario, options: ChaosOptions) -> float:
    return {"instant": options.restart_after_s + 5, "fault": options.fault_s}.get(
        scenario.lasts, options.outage_s
    )


def schedule(scenario: Scenario, options: ChaosOptions) -> tuple[float, float]:
    """(offered rate, seconds before the fault): the fault lands about a third into the run,
    and the run goes on long enough after the fault is lifted to show the recovery."""
    base = options.requests / options.rate
    lead = min(max(0.3 * base, 3.0), 15.0)
    duration = max(base, lead + _fault_length(scenario, options) + min(0.3 * base, 15.0))
    return options.requests / duration, lead


def stack_env(
    scenario: Scenario, options: ChaosOptions, shared: SharedServers, links: dict[str, str]
) -> dict[str, str]:
    env = {
        **options.artifact_env,
        "HELPDESK_FAULTS_ENABLED": "true",
        "HELPDESK_FAULTS_SEED": str(options.seed),
        "TICKETER_HELPDESK_TIMEOUT_S": f"{TICKETER_TIMEOUT_S:g}",
        **scenario.env,
    }
    if scenario.expect_dead_letters:
        env.update(budget_env(options))
    if scenario.kind == "llm":
        for prefix in ("CLASSIFIER_", "RESPONDER_"):
            env[f"{prefix}LLM_BASE_URL"] = f"http://{links[LLM_LINK]}/v1"
            env[f"{prefix}LLM_API_KEY"] = "chaos-not-a-secret"
            env[f"{prefix}LLM_TIMEOUT_S"] = "5"
            env[f"{prefix}LLM_BREAKER_COOLDOWN_S"] = "5"
        env["CLASSIFIER_PROVIDER"] = "llm"
        env["RESPONDER_COMPOSER"] = "llm"
    if scenario.kind == "weaviate":
        http, grpc = (links[link] for link in WEAVIATE_LINKS)
        env.update(
            {
                "RETRIEVER_STORE": "weaviate",
                "RETRIEVER_WEAVIATE_URL": f"http://{http}",
                "RETRIEVER_WEAVIATE_GRPC_PORT": grpc.rsplit(":", 1)[1],
                "RETRIEVER_WEAVIATE_COLLECTION": shared.weaviate_collection,
                "RETRIEVER_WEAVIATE_TIMEOUT_S": "5",
            }
        )
    return env


def _create_links(scenario: Scenario, shared: SharedServers, helpdesk_port: int) -> dict[str, str]:
    upstreams = {HELPDESK_LINK: f"127.0.0.1:{helpdesk_port}"}
    if scenario.kind == "llm" and shared.stub is not None:
        upstreams[LLM_LINK] = f"127.0.0.1:{shared.stub.port}"
    if scenario.kind == "weaviate" and shared.weaviate is not None:
        endpoint = shared.weaviate.endpoint
        upstreams[WEAVIATE_LINKS[0]] = endpoint.url.removeprefix("http://")
        upstreams[WEAVIATE_LINKS[1]] = f"127.0.0.1:{endpoint.grpc_port}"
    shared.proxies.reset()
    links = {}
    for name, upstream in upstreams.items():
        with contextlib.suppress(Exception):
            shared.proxies.delete_proxy(name)  # left over by an interrupted scenario
        links[name] = shared.proxies.create_proxy(name, upstream).listen
    return links


async def _settle(
    watcher: OutcomeWatcher, request_ids: list[str], options: ChaosOptions, label: str
) -> None:
    last, last_change, last_said = -1, time.monotonic(), 0.0
    while True:
        watcher.check()
        done = watcher.sightings.accounted(request_ids)
        now = time.monotonic()
        if done != last:
            last, last_change = done, now
        if now - last_said >= 5:
            console.print(f"  {label}: {done}/{len(request_ids)} accounted for")
            last_said = now
        if done >= len(request_ids) or now - last_change > options.stall_s:
            return
        await asyncio.sleep(0.5)


async def _inject(scenario: Scenario, env: ScenarioEnv, lead: float) -> FaultRecord | str:
    await asyncio.sleep(lead)
    console.print(f"  {scenario.name}: injecting: {scenario.what}")
    try:
        return await scenario.fault(env)
    except FaultNotInjected as error:
        return str(error)


async def run_scenario(
    scenario: Scenario, options: ChaosOptions, shared: SharedServers, run_id: str
) -> Row:
    prefix = f"chaos-{run_id}.{scenario.name}."
    rate, lead = schedule(scenario, options)
    await ensure_topics(shared.bootstrap, pipeline_topics(prefix), partitions=PARTITIONS)
    helpdesk_port = find_free_port()
    links = await asyncio.to_thread(_create_links, scenario, shared, helpdesk_port)
    work_dir = options.work_dir / scenario.name
    config = StackConfig(
        work_dir=work_dir,
        bootstrap_servers=shared.bootstrap,
        helpdesk_port=helpdesk_port,
        topic_prefix=prefix,
        partitions=PARTITIONS,
        env=stack_env(scenario, options, shared, links),
        ticketer_helpdesk_url=f"http://{links[HELPDESK_LINK]}",
    )
    stack = Stack(config)
    env = ScenarioEnv(
        scenario.name,
        prefix,
        scenario.kind,
        stack,
        shared,
        links,
        restart_after_s=options.restart_after_s,
        fault_s=options.fault_s,
        outage_s=options.outage_s,
        work_dir=work_dir,
    )
    events = _requests(options, prefix)
    request_ids = [e.request_id for e in events]
    console.print(
        f"{scenario.name}: {len(events)} requests at {rate:.1f}/s, fault after {lead:.0f} s "
        f"(logs: {work_dir / 'logs'})"
    )
    watcher = OutcomeWatcher(shared.bootstrap, prefix)
    env.sightings = watcher.sightings
    published = PublishLog()
    try:
        await asyncio.to_thread(stack.start)
        await asyncio.to_thread(stack.wait_until_assigned, list(SERVICES))
        await watcher.start()
        producer = await start_producer(shared.bootstrap)
        try:
            publishing = publish_steadily(
                producer,
                prefix + REQUEST_RECEIVED,
                events,
                rate,
                published,
                give_up_after_s=options.requests / rate + options.outage_s + 300,
            )
            _, fault = await asyncio.gather(publishing, _inject(scenario, env, lead))
        finally:
            await producer.stop()
        await _settle(watcher, request_ids, options, scenario.name)
        result = await audit(
            shared.bootstrap,
            prefix,
            request_ids,
            config.helpdesk_url,
            config.helpdesk_keys.operator_headers(),
        )
        died = tuple(n for n, p in stack.processes.items() if p.died)
    finally:
        await watcher.stop()
        await asyncio.to_thread(stack.stop)
    record = fault if isinstance(fault, FaultRecord) else None
    outcome_at = {r: t for r in request_ids if (t := watcher.sightings.outcome_at(r)) is not None}
    healed = (
        None if record is None else recovery(published.sent_at, outcome_at, record.started_at, rate)
    )
    return Row(
        scenario=scenario.name,
        requests=len(events),
        published=published.acknowledged,
        audit=result,
        fault=record,
        died=died,
        recovery=healed,
        expect_dead_letters=scenario.expect_dead_letters,
        error="" if record is not None else str(fault),
    )
