"""The seed-style sequential pipeline: the four services' own handlers (classifier, retriever,
ticketer with the real HelpdeskClient, responder) chained in one process, one request at a
time, no Kafka in between. Built from each service's public building blocks, the way its
``build_app`` composes them, so the bus rows are compared with exactly the same logic."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import httpx
from prometheus_client import CollectorRegistry

from busbench.checks import check_tickets, percentile
from busbench.procstats import CpuMeter
from busbench.progress import Counter as ProgressCounter
from busbench.progress import say
from busbench.results import Row
from supportbus_classifier.app import build_classifier
from supportbus_classifier.handlers import confidence_histogram
from supportbus_classifier.handlers import routes as classifier_routes
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.service import ClassificationService
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import RequestReceived, ResponseReady
from supportbus_contracts.envelope import Event
from supportbus_responder.app import build_llm_composer
from supportbus_responder.handlers import routes as responder_routes
from supportbus_responder.ports import ReplyComposer
from supportbus_responder.settings import ResponderSettings
from supportbus_responder.template import TemplateComposer
from supportbus_retriever.app import build_index
from supportbus_retriever.handlers import routes as retriever_routes
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.delivery import Publication
from supportbus_runtime.embedding import MiniLMEmbedder
from supportbus_ticketer.handlers import routes as ticketer_routes
from supportbus_ticketer.helpdesk_client import HelpdeskClient
from supportbus_ticketer.service import TicketService
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
        self.classifier_settings = ClassifierSettings(model_path=model_path)
        self.taxonomy = Taxonomy.load(self.classifier_settings.taxonomy_path)
        shared = self.classifier_settings.shared_dir
        # One embedder each, as in the two services' own processes.
        embedder = MiniLMEmbedder(
            self.classifier_settings.resolved_model_path(shared),
            threads=self.classifier_settings.embedding_threads,
        )
        self.model = LinearIntentModel.load(model_path, embedder=embedder, taxonomy=self.taxonomy)
        embedder.load()
        self.retriever_settings = RetrieverSettings(index_dir=index_dir)
        retriever_embedder = MiniLMEmbedder(
            self.retriever_settings.resolved_model_path(self.retriever_settings.shared_dir),
            threads=self.retriever_settings.embedding_threads,
        )
        self.index = build_index(self.retriever_settings, retriever_embedder)


def _hops(local: Local, providers: Providers, http: httpx.AsyncClient) -> list[Hop]:
    llm: dict[str, Any] = {"llm_base_url": providers.llm_base_url} if providers.llm_base_url else {}
    classifier_settings = local.classifier_settings.model_copy(
        update={"provider": providers.classifier, **llm}
    )
    classifier = build_classifier(
        classifier_settings, ClassificationService(local.model, local.taxonomy), local.taxonomy
    )
    rs = local.retriever_settings
    retrieval = RetrievalService(
        local.index,
        top_k=rs.top_k,
        kb_base_url=rs.kb_base_url,
        intent_boost=rs.intent_boost,
        boost_min_confidence=rs.intent_boost_min_confidence,
    )
    tickets = HelpdeskClient(http)
    responder_settings = ResponderSettings(
        composer=cast(Literal["template", "llm"], providers.composer), **llm
    )
    composer: ReplyComposer = (
        build_llm_composer(responder_settings)
        if providers.composer == "llm"
        else TemplateComposer(
            brand=responder_settings.brand,
            max_cited_articles=responder_settings.max_cited_articles,
        )
    )
    return [
        classifier_routes(classifier, confidence_histogram(CollectorRegistry()))[0].handler,
        retriever_routes(retrieval)[0].handler,
        ticketer_routes(TicketService(tickets))[0].handler,
        responder_routes(composer)[0].handler,
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
    helpdesk_url: str,
    helpdesk_pid: int | None,
    timeout_s: float,
) -> Row:
    say(f"-- {label}: {len(events)} requests, one at a time, in this process")
    ts = TicketerSettings()
    pids = {"benchmark process": os.getpid()}
    if helpdesk_pid is not None:
        pids["helpdesk"] = helpdesk_pid
    meter = CpuMeter(pids)
    latencies: list[float] = []
    fallbacks = 0
    failure = None
    # As the ticketer's build_app makes it (one request at a time needs one connection).
    async with httpx.AsyncClient(
        base_url=helpdesk_url, timeout=httpx.Timeout(ts.helpdesk_timeout_s)
    ) as http:
        hops = _hops(local, providers, http)
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
    done = len(latencies)
    tickets = await asyncio.to_thread(
        check_tickets, helpdesk_url, [e.request_id for e in events[:done]]
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
