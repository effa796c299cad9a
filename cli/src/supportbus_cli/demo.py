"""`supportbus demo`: the whole system on the embedded defaults, start to finish."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.panel import Panel

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.artifacts import ensure_index, ensure_model
from supportbus_cli.collect import collect_responses, collect_reviews
from supportbus_cli.kafka import local_kafka
from supportbus_cli.progress import console
from supportbus_cli.publishing import RequestLine, publish_requests, read_requests_file
from supportbus_cli.settings import CliSettings
from supportbus_contracts import ResponseReady
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.stack import Stack, StackConfig, service_python
from supportbus_llm_stub.testing import StubServer
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.broker import ensure_topics


@contextlib.contextmanager
def _broker(settings: CliSettings, external: str | None, work_dir: Path) -> Iterator[str]:
    if external:
        yield external
        return
    data_dir = work_dir / "kafka"
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh broker: the demo shows only its own run
    with console.status("starting Kafka (KRaft, single node) on 127.0.0.1..."):
        kafka_cm = local_kafka(data_dir, settings.cache_dir)
        kafka = kafka_cm.__enter__()
    try:
        console.print(f"Kafka is up at {kafka.bootstrap_servers}")
        yield kafka.bootstrap_servers
    finally:
        with console.status("stopping Kafka..."):
            kafka_cm.__exit__(None, None, None)


@contextlib.contextmanager
def _reviewer_llm(work_dir: Path, enabled: bool) -> Iterator[dict[str, str]]:
    """With the reviewer: the offline LLM stub it reviews with (deterministic reviews), and
    the environment that points it there."""
    if not enabled:
        yield {}
        return
    service_python("reviewer")  # a clear error now if its environment is not installed
    with StubServer(echo_valid=True, log_path=work_dir / "logs" / "llm-stub.log") as stub:
        console.print(f"reviewer's LLM: the offline stub at {stub.base_url}")
        yield {"REVIEWER_LLM_BASE_URL": stub.base_url, "REVIEWER_LLM_MODEL": "stub-large"}


def run_demo(
    settings: CliSettings,
    *,
    external_bootstrap: str | None,
    timeout_s: float,
    reviewer: bool = False,
) -> int:
    started = time.perf_counter()
    ensure_model(ClassifierSettings(), settings.banking77_train())
    ensure_index(RetrieverSettings())
    lines = read_requests_file(settings.sample_requests)
    work_dir = settings.work_dir / "demo"
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "helpdesk.sqlite3").unlink(missing_ok=True)
    traces = work_dir / "traces"
    shutil.rmtree(traces, ignore_errors=True)
    run_id = uuid.uuid4().hex[:6]
    lines = [RequestLine(f"demo-{run_id}-{n:02d}", line.request) for n, line in enumerate(lines, 1)]
    agents = ("reviewer",) if reviewer else ()
    with (
        _broker(settings, external_bootstrap, work_dir) as bootstrap,
        _reviewer_llm(work_dir, reviewer) as agent_env,
    ):
        prefix = settings.topic_prefix
        port = find_free_port() if settings.helpdesk_port == 0 else settings.helpdesk_port
        config = StackConfig(
            work_dir=work_dir,
            bootstrap_servers=bootstrap,
            helpdesk_port=port,
            topic_prefix=prefix,
            partitions=settings.topic_partitions,
            traces_dir=traces,
            env=agent_env,
            agents=agents,
        )
        asyncio.run(
            ensure_topics(
                bootstrap,
                pipeline_topics(prefix),
                security=settings,
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )
        )
        console.print(
            "starting the helpdesk and the four services"
            + (" and the reviewer agent..." if reviewer else "...")
        )
        with Stack(config) as stack:
            console.print(
                f"services running; logs in {work_dir / 'logs'}, "
                f"helpdesk API keys in {config.helpdesk_keys.directory}"
            )
            cli = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
            asyncio.run(publish_requests(cli, lines))
            with console.status(f"waiting for {len(lines)} replies..."):
                found = asyncio.run(
                    collect_responses(
                        bootstrap,
                        [line.request_id for line in lines],
                        topic_prefix=prefix,
                        timeout_s=timeout_s,
                    )
                )
            reviews = _reviews(bootstrap, prefix, found) if reviewer else {}
            stack.check_alive()
            for line in lines:
                _show(line, found.get(line.request_id, []), reviews.get(line.request_id))
            if reviewer:
                verdicts = Counter(r["verdict"] for r in reviews.values())
                console.print(
                    f"reviews: {len(reviews)} of {len(found)} replies "
                    f"({verdicts['approved']} approved, {verdicts['flagged']} flagged; "
                    "holding replies of handed-off requests are not reviewed)"
                )
            console.print(f"{len(found)}/{len(lines)} requests answered; stopping everything...")
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    console.print(
        f"see one request end to end:  uv run supportbus trace {lines[0].request_id} "
        f"--spans {traces}",
        soft_wrap=True,
    )
    return 0 if len(found) == len(lines) else 1


def _reviews(
    bootstrap: str, prefix: str, found: dict[str, list[ResponseReady]]
) -> dict[str, dict[str, Any]]:
    automated = [r for r, replies in found.items() if replies[0].composer != "handoff"]
    with console.status(f"waiting for the reviewer's {len(automated)} reviews..."):
        reviews = asyncio.run(
            collect_reviews(bootstrap, automated, topic_prefix=prefix, timeout_s=90)
        )
    return {request_id: events[0] for request_id, events in reviews.items()}


def _verdict(review: dict[str, Any] | None) -> str:
    if review is None:
        return ""
    colour = "green" if review["verdict"] == "approved" else "yellow"
    findings = "; ".join(f"{f['kind']}: {f['detail']}" for f in review["findings"])
    return f"\n\nreview: [{colour}]{review['verdict']}[/] · score {review['score']:.2f}" + (
        f" · {findings}" if findings else ""
    )


def _show(
    line: RequestLine, responses: list[ResponseReady], review: dict[str, Any] | None = None
) -> None:
    asked = " ".join(line.request.body.split())
    if not responses:
        console.print(
            Panel(f"[red]no reply[/] (see `supportbus dlq list`)\n{asked}", title=line.request_id)
        )
        return
    r = responses[0]
    c = r.classification
    head = (
        f"[bold]{line.request.channel}[/] · {c.category} / {c.intent} · priority "
        f"[bold]{c.priority}[/] · confidence {c.confidence:.2f}\n"
        f"ticket: {r.ticket.ticket_id} {r.ticket.url}\n"
        f"cited articles: {', '.join(r.cited_article_ids) or '-'}\n"
        f"[dim]customer: {asked[:200]}[/]\n\n{r.reply}{_verdict(review)}"
    )
    console.print(Panel(head, title=line.request_id))
