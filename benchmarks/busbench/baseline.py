"""The seed-style sequential pipeline: the four services' own handlers (classifier, retriever,
ticketer with the real HelpdeskClient, responder) chained in one process, one request at a
time, no Kafka in between. Each comes from its service's own ``build_app`` (the composition
root the processes run), so the bus rows are compared with exactly the same logic; only the
micro-batchers' wait is set to 0, since one request at a time has nobody to batch with."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from busbench.checks import check_tickets, percentile
from busbench.procstats import CpuMeter
from busbench.progress import Counter as ProgressCounter
from busbench.progress import say
from busbench.results import Row
from supportbus_classifier.app import build_app as build_classifier_app
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import RequestReceived, ResponseReady
from supportbus_contracts.envelope import Event
from supportbus_devtools.stack import StackConfig
from supportbus_responder.app import build_app as build_responder_app
from supportbus_responder.settings import ResponderSettings
from supportbus_retriever.app import build_app as build_retriever_app
from supportbus_retriever.app import build_index
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.app import ServiceApp
from supportbus_runtime.delivery import Publication
from supportbus_runtime.embedding import MiniLMEmbedder
from supportbus_ticketer.app import build_app as build_ticketer_app
from supportbus_ticketer.settings import TicketerSettings

Hop = Callable[[Any], Awaitable[Sequence[Publication]]]


@dataclass(frozen=True)
class Providers:
    classifier: str = "local"  # local | llm | hybrid
    composer: str = "template"  # template | llm
    llm_base_url: str = ""


class Local:
    """What the embedded providers load once (model, index), shared by every baseline."""

    def __init__(self, model_path: Path, index_dir: Path) -> None:
        self.classifier_settings = ClassifierSettings(model_path=model_path, batch_wait_ms=0)
        taxonomy = Taxonomy.load(self.classifier_settings.taxonomy_path)
        # One embedder each, as in the two services' own processes. Every core (None): the
        # sequential pipeline runs alone and one request at a time, where a second
        # onnxruntime thread shortens each call; the services' default of one is for sharing.
        embedder = MiniLMEmbedder(
            self.classifier_settings.resolved_model_path(self.classifier_settings.shared_dir),
            threads=None,
        )
        self.model = LinearIntentModel.load(model_path, embedder=embedder, taxonomy=taxonomy)
        embedder.load()
        self.retriever_settings = RetrieverSettings(index_dir=index_dir, batch_wait_ms=0)
        retriever_embedder = MiniLMEmbedder(
            self.retriever_settings.resolved_model_path(self.retriever_settings.shared_dir),
            threads=None,
        )
        retriever_embedder.load()
        self.index = build_index(self.retriever_settings, retriever_embedder)


def _handler(service_app: ServiceApp) -> Hop:
    (route,) = service_app.routes  # each core service consumes one topic
    return route.handler


def _apps(local: Local, providers: Providers, helpdesk: StackConfig) -> list[ServiceApp]:
    llm: dict[str, Any] = {"llm_base_url": providers.llm_base_url} if providers.llm_base_url else {}
    classifier = local.classifier_settings.model_copy(
        update={"provider": providers.classifier, **llm}
    )
    responder = ResponderSettings(
        composer=cast(Literal["template", "llm"], providers.composer), **llm
    )
    return [
        build_classifier_app(classifier, model=local.model),
        build_retriever_app(local.retriever_settings, index=local.index),
        build_ticketer_app(
            TicketerSettings(
                helpdesk_url=helpdesk.helpdesk_url,
                helpdesk_api_key_file=helpdesk.helpdesk_keys.ticketer_key_file,
            )
        ),
        build_responder_app(responder),
    ]


async def _through(hops: list[Hop], event: RequestReceived) -> ResponseReady:
    current: Event = event
    for hop in hops:
        (publication,) = await hop(current)  # each hop publishes exactly one event
        current = publication.event
    assert isinstance(current, ResponseReady)
    return current


async def run_baseline(
    local: Local,
    providers: Providers,
    events: list[RequestReceived],
    warmup: list[RequestReceived],
    *,
    label: str,
    key: str,
    helpdesk: StackConfig,
    helpdesk_pid: int | None,
    timeout_s: float,
) -> Row:
    say(f"-- {label}: {len(events)} requests, one at a time, in this process")
    pids = {"benchmark process": os.getpid()}
    if helpdesk_pid is not None:
        pids["helpdesk"] = helpdesk_pid
    meter = CpuMeter(pids)
    latencies: list[float] = []
    fallbacks = 0
    failure = None
    apps = _apps(local, providers, helpdesk)
    hops = [_handler(service_app) for service_app in apps]
    try:
        for event in warmup:  # first calls load lazily; not counted
            await _through(hops, event)
        progress = ProgressCounter(f"{label}: done", len(events))
        meter.start()
        started = time.perf_counter()
        for n, event in enumerate(events, 1):
            begun = time.perf_counter()
            ready = await _through(hops, event)
            latencies.append((time.perf_counter() - begun) * 1000)
            fallbacks += bool(ready.fallback_reason or ready.classification.fallback_reason)
            progress.update(n)
            if time.perf_counter() - started > timeout_s:
                failure = f"TIMEOUT after {n} of {len(events)} requests"
                break
        elapsed = time.perf_counter() - started
        used = meter.stop()
    finally:
        # Never started: stopping runs their shutdown hooks (HTTP client, batcher threads).
        for service_app in apps:
            await service_app.app.stop()
    done = len(latencies)
    tickets = await asyncio.to_thread(
        check_tickets,
        helpdesk.helpdesk_url,
        [e.request_id for e in events[:done]],
        helpdesk.helpdesk_keys.operator_headers(),
    )
    row = Row(
        section="baseline",
        label=label,
        n=done,
        per_s=done / elapsed if elapsed > 0 else None,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        lost=len(events) - done,
        dup_tickets=tickets.duplicates,
        cpu_ms=1000 * sum(used.values()) / max(done, 1),
        base=key,
        key=key,
        failure=failure,
    )
    row.cpu_by_process = {name: seconds / max(done, 1) for name, seconds in used.items()}
    if fallbacks:
        row.notes.append(f"{fallbacks} fallbacks")
    row.notes.append("CPU: this process + helpdesk")
    say(f"   {label}: {row.per_s or 0:.1f}/s, p50 {row.p50_ms or 0:.0f} ms")
    return row
