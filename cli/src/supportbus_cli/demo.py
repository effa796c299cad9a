"""`supportbus demo`: the whole system on the embedded defaults, start to finish."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from rich.panel import Panel

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli.artifacts import ensure_index, ensure_model
from supportbus_cli.collect import collect_responses
from supportbus_cli.kafka import local_kafka
from supportbus_cli.progress import console
from supportbus_cli.publishing import RequestLine, publish_requests, read_requests_file
from supportbus_cli.settings import CliSettings
from supportbus_contracts import ResponseReady
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.stack import Stack, StackConfig
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


def run_demo(settings: CliSettings, *, external_bootstrap: str | None, timeout_s: float) -> int:
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
    with _broker(settings, external_bootstrap, work_dir) as bootstrap:
        prefix = settings.topic_prefix
        port = find_free_port() if settings.helpdesk_port == 0 else settings.helpdesk_port
        config = StackConfig(
            work_dir=work_dir,
            bootstrap_servers=bootstrap,
            helpdesk_port=port,
            topic_prefix=prefix,
            partitions=settings.topic_partitions,
            traces_dir=traces,
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
        console.print("starting the helpdesk and the four services...")
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
            stack.check_alive()
            for line in lines:
                _show(line, found.get(line.request_id, []))
            console.print(f"{len(found)}/{len(lines)} requests answered; stopping everything...")
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s")
    console.print(
        f"see one request end to end:  uv run supportbus trace {lines[0].request_id} "
        f"--spans {traces}",
        soft_wrap=True,
    )
    return 0 if len(found) == len(lines) else 1


def _show(line: RequestLine, responses: list[ResponseReady]) -> None:
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
        f"[dim]customer: {asked[:200]}[/]\n\n{r.reply}"
    )
    console.print(Panel(head, title=line.request_id))
