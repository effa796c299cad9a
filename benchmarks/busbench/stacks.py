"""One configuration of the real stack (helpdesk + the four services as OS processes, the
supportbus_cli Stack) on fresh topics, with the benchmark's watcher on its outputs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from busbench.config import SERVICES, Sizes
from busbench.corpus import Corpus
from busbench.kafka_io import TopicWatcher
from busbench.progress import say
from supportbus_contracts.topics import PIPELINE_TOPICS, RESPONSE_READY, dead_letter_topic
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.stack import Stack, StackConfig
from supportbus_llm_stub.testing import StubServer
from supportbus_runtime.broker import ensure_topics

PARTITIONS = 6  # the services' default


@dataclass
class Bench:
    """What every phase shares: the broker, the producer, the corpus, the artifacts."""

    bootstrap: str
    run_id: str
    work_dir: Path
    sizes: Sizes
    artifact_env: dict[str, str]
    producer: AIOKafkaProducer
    corpus: Corpus
    broker_pid: int | None


@dataclass
class RunningStack:
    label: str
    prefix: str
    stack: Stack
    watcher: TopicWatcher
    bench: Bench
    stub: StubServer | None

    @property
    def request_topic(self) -> str:
        return self.prefix + PIPELINE_TOPICS[0]

    def measured_pids(self) -> dict[str, int]:
        """The processes a request costs CPU in: services, helpdesk, and the broker when it is
        ours (the LLM stub stands for a remote provider and is reported apart)."""
        pids = dict(self.stack.pids())
        if self.bench.broker_pid is not None:
            pids["kafka broker"] = self.bench.broker_pid
        return pids


def llm_env(stub: StubServer, *, classifier: str, composer: str) -> dict[str, str]:
    return {
        "CLASSIFIER_PROVIDER": classifier,
        "CLASSIFIER_LLM_BASE_URL": stub.base_url,
        "RESPONDER_COMPOSER": composer,
        "RESPONDER_LLM_BASE_URL": stub.base_url,
    }


def max_in_flight_env(value: int) -> dict[str, str]:
    return {f"{service.upper()}_MAX_IN_FLIGHT": str(value) for service in SERVICES}


@contextlib.asynccontextmanager
async def running_stack(
    bench: Bench, slug: str, env: dict[str, str], stub: StubServer | None = None
) -> AsyncIterator[RunningStack]:
    """Starts the stack on topics of its own (``<run id>.<slug>.``): a run that failed on one
    stack leaves nothing behind for the next one to pick up."""
    prefix = f"{bench.run_id}.{slug}."
    await ensure_topics(bench.bootstrap, pipeline_topics(prefix), partitions=PARTITIONS)
    config = StackConfig(
        work_dir=bench.work_dir / slug,
        bootstrap_servers=bench.bootstrap,
        helpdesk_port=find_free_port(),
        topic_prefix=prefix,
        partitions=PARTITIONS,
        env={**bench.artifact_env, **env},
    )
    stack = Stack(config)
    say(f"   starting helpdesk + {', '.join(SERVICES)} (logs: {config.work_dir / 'logs'})")
    watcher = TopicWatcher(
        bench.bootstrap,
        prefix + RESPONSE_READY,
        [dead_letter_topic(prefix + t) for t in PIPELINE_TOPICS[:-1]],
    )
    try:
        await asyncio.to_thread(stack.start)
        await watcher.start()
        yield RunningStack(slug, prefix, stack, watcher, bench, stub)
    finally:
        await watcher.stop()
        say(f"   stopping the {slug} stack")
        await asyncio.to_thread(stack.stop)
