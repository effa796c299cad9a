"""A chaos run: the servers every scenario shares, started once, then each scenario in turn.

The broker is the command's own (a LocalKafka on a fixed port and data dir, so a broker fault
can kill it and start it again where it was) unless an external one is given, in which case
the broker scenarios are skipped. Toxiproxy always runs; the LLM stub and Weaviate only when a
selected scenario needs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from supportbus_cli.chaos.environment import SharedServers
from supportbus_cli.chaos.runner import ChaosOptions, Row, run_scenario
from supportbus_cli.chaos.scenarios import Scenario
from supportbus_cli.progress import console
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig, find_free_port
from supportbus_devtools.localweaviate import LocalWeaviate, LocalWeaviateConfig
from supportbus_devtools.toxiproxy import LocalToxiproxy, ToxiproxyClient
from supportbus_llm_stub.testing import StubServer

WEAVIATE_COLLECTION = "ChaosArticles"


def _ingest_kb(weaviate: LocalWeaviate) -> None:
    from supportbus_cli.artifacts import embedder_for
    from supportbus_retriever.kb import load_articles
    from supportbus_retriever.settings import RetrieverSettings
    from supportbus_retriever.weaviate_store import WeaviateKnowledgeIndex

    settings = RetrieverSettings()
    endpoint = weaviate.endpoint
    with WeaviateKnowledgeIndex.connect(
        url=endpoint.url,
        grpc_port=endpoint.grpc_port,
        collection=WEAVIATE_COLLECTION,
        embedder=embedder_for(settings),
    ) as index:
        index.ingest(load_articles(settings.kb_dir))


@contextlib.contextmanager
def shared_servers(
    scenarios: Sequence[Scenario], work_dir: Path, cache_dir: Path, bootstrap: str | None
) -> Iterator[SharedServers]:
    with contextlib.ExitStack() as servers:
        kafka: LocalKafka | None = None
        if bootstrap is None:
            kafka = LocalKafka(
                LocalKafkaConfig(
                    data_dir=work_dir / "kafka", cache_dir=cache_dir, port=find_free_port()
                )
            )
            servers.enter_context(kafka)
            bootstrap = kafka.bootstrap_servers
        console.print("starting Toxiproxy (built with go install on first use)...")
        toxiproxy = servers.enter_context(LocalToxiproxy(cache_dir=cache_dir, work_dir=work_dir))
        proxies = servers.enter_context(ToxiproxyClient(toxiproxy.api_url))
        shared = SharedServers(bootstrap, kafka, toxiproxy, proxies)
        if any(s.kind == "llm" for s in scenarios):
            stub = StubServer(
                latency_ms=100, echo_valid=True, log_limit=50, log_path=work_dir / "llm-stub.log"
            )
            shared.stub = servers.enter_context(stub)
        if any(s.kind == "weaviate" for s in scenarios):
            console.print("starting Weaviate and ingesting the knowledge base...")
            weaviate = LocalWeaviate(
                LocalWeaviateConfig(
                    data_dir=work_dir / "weaviate", cache_dir=cache_dir, http_port=0, grpc_port=0
                )
            )
            shared.weaviate = servers.enter_context(weaviate)
            _ingest_kb(weaviate)
            shared.weaviate_collection = WEAVIATE_COLLECTION
        yield shared


def run_suite(
    scenarios: Sequence[Scenario],
    options: ChaosOptions,
    *,
    cache_dir: Path,
    bootstrap: str | None = None,
) -> list[Row]:
    run_id = uuid.uuid4().hex[:6]
    rows: list[Row] = []
    with shared_servers(scenarios, options.work_dir, cache_dir, bootstrap) as shared:
        for n, scenario in enumerate(scenarios, 1):
            console.print(f"[bold]scenario {n}/{len(scenarios)}: {scenario.name}[/]")
            if scenario.needs_own_broker and shared.kafka is None:
                rows.append(_skipped(scenario, options, "needs the command's own broker"))
                continue
            try:
                row = asyncio.run(run_scenario(scenario, options, shared, run_id))
            except Exception as error:  # a crashed scenario is a failed row; the rest still run
                console.print_exception(max_frames=8)
                row = _skipped(scenario, options, "")
                row = dataclasses.replace(row, error=f"{type(error).__name__}: {error}")
            verdict = "; ".join(row.problems) or "ok"
            console.print(f"  {scenario.name}: {verdict}")
            rows.append(row)
    return rows


def _skipped(scenario: Scenario, options: ChaosOptions, why: str) -> Row:
    return Row(
        scenario=scenario.name,
        requests=options.requests,
        published=0,
        audit=None,
        fault=None,
        died=(),
        recovery=None,
        expect_dead_letters=scenario.expect_dead_letters,
        skipped=why,
    )
