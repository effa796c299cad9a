"""The `supportbus` operator CLI. Commands do not catch errors: they fail by raising, and
``supportbus_cli.errors`` turns what escapes into one message and an exit code for all of them."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import (
    ensure_banking77,
    read_labelled_csv,
)
from supportbus_cli import artifacts
from supportbus_cli.chaos.command import register as register_chaos
from supportbus_cli.dlq import list_dead_letters, redrive
from supportbus_cli.errors import ErrorTranslatingGroup, quiet_what_is_reported
from supportbus_cli.eval_command import register as register_eval
from supportbus_cli.kb_command import register as register_kb
from supportbus_cli.new_agent import register as register_new_agent
from supportbus_cli.progress import console
from supportbus_cli.publishing import (
    RequestLine,
    new_request_id,
    publish_requests,
    read_requests_file,
)
from supportbus_cli.serve import serve
from supportbus_cli.settings import CliSettings
from supportbus_cli.tracing.command import register as register_trace
from supportbus_contracts import SupportRequest
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.broker import ensure_topics
from supportbus_runtime.logs import configure_logging

app = typer.Typer(
    help="Operate supportbus: publish requests, train, evaluate, inspect dead letters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorTranslatingGroup,  # every command's errors: one message and exit code
)
dlq_app = typer.Typer(
    help="Dead letters: what could not be handled, and why.", no_args_is_help=True
)
kafka_app = typer.Typer(
    help="A local single-node Kafka (KRaft) for machines without Docker.", no_args_is_help=True
)
index_app = typer.Typer(help="The retriever's knowledge index.", no_args_is_help=True)
register_trace(app)
register_kb(app)
register_chaos(app)
register_eval(app)
register_new_agent(app)
for sub, name in (
    (dlq_app, "dlq"),
    (kafka_app, "kafka"),
    (index_app, "index"),
):
    app.add_typer(sub, name=name)


@app.callback()
def _configure() -> None:
    configure_logging(CliSettings().log_level, "supportbus-cli")
    quiet_what_is_reported()


Bootstrap = Annotated[str | None, typer.Option(help="Kafka bootstrap servers (default: settings).")]


def _settings(bootstrap: str | None = None) -> CliSettings:
    settings = CliSettings()
    return (
        settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
        if bootstrap
        else settings
    )


@app.command()
def publish(
    text: Annotated[str | None, typer.Option(help="Body of one request to publish.")] = None,
    file: Annotated[Path | None, typer.Option(help="JSONL file, one request per line.")] = None,
    channel: str = "api",
    customer_id: str = "cus_cli",
    subject: str = "",
    email: str | None = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Publish support requests to support.request.received.v1."""
    if (text is None) == (file is None):
        raise typer.BadParameter("give exactly one of --text or --file")
    if file is not None:
        lines = read_requests_file(file)
    else:
        request = SupportRequest.model_validate(
            {
                "channel": channel,
                "customer_id": customer_id,
                "subject": subject,
                "body": text,
                "email": email,
            }
        )
        lines = [RequestLine(new_request_id(), request)]
    events = asyncio.run(publish_requests(_settings(bootstrap), lines))
    for event in events:
        print(event.request_id)


@app.command()
def train(
    data: Annotated[Path | None, typer.Option(help="Banking77-format CSV (text,category).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Model file (default: classifier settings).")
    ] = None,
) -> None:
    """Train the classifier's intent model and write the model file the service loads."""
    classifier = ClassifierSettings()
    labelled = read_labelled_csv(ensure_banking77(data or _settings().banking77_train()))
    report = artifacts.train(
        labelled,
        out or classifier.model_path,
        taxonomy=Taxonomy.load(classifier.taxonomy_path),
        embedder=artifacts.embedder_for(classifier),
    )
    console.print(
        f"trained on {report.examples} examples ({report.intents} intents) in "
        f"{report.seconds:.1f} s -> {report.path}"
    )


@app.command()
def prepare(
    data: Annotated[Path | None, typer.Option(help="Banking77-format CSV for training.")] = None,
) -> None:
    """Train the intent model and build the knowledge index, each only if missing or stale."""
    artifacts.ensure_model(ClassifierSettings(), data or _settings().banking77_train())
    artifacts.ensure_index(RetrieverSettings())
    console.print("intent model and knowledge index are ready")


@index_app.command("build")
def index_build() -> None:
    """(Re)build the local knowledge index from the articles under data/kb and the labelled
    questions of RETRIEVER_EXPANSION_CSV (default: the Banking77 training CSV)."""
    started = time.perf_counter()
    settings = RetrieverSettings()
    index = artifacts.build_index(settings)
    questions = index.expansion or {}
    expanded = (
        f", with {questions['attached']} expansion questions from {questions['source']}"
        if questions
        else ", without expansion questions"
    )
    console.print(
        f"index built in {time.perf_counter() - started:.1f} s{expanded} -> {settings.index_dir}"
    )


@dlq_app.command("list")
def dlq_list(
    bootstrap: Bootstrap = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Show every dead letter: where it came from, which service gave up, and why."""
    letters = asyncio.run(list_dead_letters(_settings(bootstrap)))
    for letter in letters:
        row = {
            "topic": letter.dlq_topic,
            "partition": letter.partition,
            "offset": letter.offset,
            "key": (letter.key or b"").decode("utf-8", "replace"),
            "service": letter.service,
            "error_type": letter.error_type,
            "reason": letter.reason,
            "failed_at": letter.failed_at,
            "bytes": len(letter.value),
        }
        if as_json:
            print(json.dumps(row))
        else:
            print(
                f"{row['topic']}[{row['partition']}]@{row['offset']} key={row['key']} "
                f"{row['service']} {row['error_type']} ({row['bytes']} bytes): {row['reason']}"
            )
    console.print(f"{len(letters)} dead letter(s)")


@dlq_app.command("redrive")
def dlq_redrive(
    bootstrap: Bootstrap = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
) -> None:
    """Republish dead letters, unchanged, to the topic they failed on (each one once)."""
    sent = asyncio.run(redrive(_settings(bootstrap), limit=limit))
    console.print(f"redrove {sent} dead letter(s)")


@kafka_app.command("run")
def kafka_run(
    data_dir: Annotated[Path | None, typer.Option(help="Broker data (default var/kafka).")] = None,
    port: int = 9092,
) -> None:
    """Run a local Kafka 4.1 broker on 127.0.0.1 until Ctrl-C (fetches the jars on first use)."""
    settings = _settings()
    kafka = LocalKafka(
        LocalKafkaConfig(
            data_dir=data_dir or settings.work_dir / "kafka",
            cache_dir=settings.cache_dir,
            port=port,
        )
    )
    serve(kafka, "Kafka", lambda: kafka.bootstrap_servers)


@app.command("topics")
def topics(bootstrap: Bootstrap = None) -> None:
    """Create every pipeline topic (and dead-letter topic) that does not exist yet."""
    settings = _settings(bootstrap)
    created = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap_servers,
            pipeline_topics(settings.topic_prefix),
            security=settings,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
        )
    )
    console.print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


@app.command()
def asyncapi(
    out_dir: Annotated[Path | None, typer.Option(help="Default: docs/asyncapi.")] = None,
) -> None:
    """Regenerate the services' AsyncAPI documents from their declarations (no model needed)."""
    from supportbus_cli import asyncapi_docs

    written = asyncapi_docs.write(
        asyncapi_docs.declarations(), out_dir or asyncapi_docs.DEFAULT_DIR
    )
    for path in written:
        console.print(f"wrote {path}")


@app.command()
def demo(
    bootstrap: Annotated[
        str | None, typer.Option(help="Use this Kafka instead of a local one.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the replies.")] = 180.0,
    reviewer: Annotated[
        bool,
        typer.Option(
            help="Also run the CrewAI reviewer agent (its own environment: `uv sync --frozen "
            "--directory agents/reviewer`) against the offline LLM stub, and show its reviews."
        ),
    ] = False,
) -> None:
    """Run the whole system on the embedded defaults with a dozen sample requests."""
    from supportbus_cli.demo import run_demo

    code = run_demo(_settings(), external_bootstrap=bootstrap, timeout_s=timeout, reviewer=reviewer)
    raise typer.Exit(code)


if __name__ == "__main__":
    app(sys.argv[1:])
