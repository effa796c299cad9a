"""``supportbus kb ingest`` and ``supportbus weaviate run``; main.py wires them in with
``register(app)``. Errors are left to the app's one translation (``supportbus_cli.errors``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import TaskID

from supportbus_cli import artifacts
from supportbus_cli.kb_gaps_command import gaps_command
from supportbus_cli.progress import console, progress_bar
from supportbus_cli.serve import serve
from supportbus_cli.settings import CliSettings
from supportbus_devtools.localweaviate import (
    LocalWeaviate,
    LocalWeaviateConfig,
    ensure_weaviate_binary,
)
from supportbus_retriever.kb import KbArticle, load_articles
from supportbus_retriever.settings import RetrieverSettings
from supportbus_retriever.weaviate_store import IngestReport, WeaviateKnowledgeIndex

kb_app = typer.Typer(help="The knowledge base the retriever searches.", no_args_is_help=True)
weaviate_app = typer.Typer(
    help="A local single-node Weaviate for machines without Docker.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``kb`` and ``weaviate`` command groups to ``app``."""
    kb_app.command("gaps")(gaps_command)
    app.add_typer(kb_app, name="kb")
    app.add_typer(weaviate_app, name="weaviate")


def ingest_with_progress(
    index: WeaviateKnowledgeIndex, articles: list[KbArticle], *, recreate: bool = False
) -> IngestReport:
    """Ingest with a progress bar over the chunks that are embedded and written."""
    with progress_bar() as progress:
        task: TaskID | None = None
        reported = 0

        def advance(done: int, total: int) -> None:
            nonlocal task, reported
            if task is None:  # the first call says how many chunks need writing
                if total == 0:
                    return  # nothing changed: no bar
                task = progress.add_task(f"writing to {index.collection_name}", total=total)
            progress.advance(task, done - reported)
            reported = done

        return index.ingest(articles, recreate=recreate, on_progress=advance)


def describe(report: IngestReport) -> str:
    changed = ", ".join(report.changed_articles[:5])
    if len(report.changed_articles) > 5:
        changed += f", … ({len(report.changed_articles)} articles)"
    return (
        f"{report.articles} articles as {report.chunks} chunks: {report.added} added, "
        f"{report.updated} updated, {report.deleted} deleted, {report.unchanged} unchanged"
        + (f" ({changed})" if changed else "")
    )


@kb_app.command("ingest")
def ingest_command(
    store: Annotated[
        Literal["local", "weaviate"] | None,
        typer.Option(help="Where to (re)ingest data/kb (default: RETRIEVER_STORE, else local)."),
    ] = None,
    recreate: Annotated[
        bool,
        typer.Option(help="weaviate: drop the collection first (e.g. after a model change)."),
    ] = False,
) -> None:
    """(Re)ingest the articles idempotently: only new or changed chunks are embedded and
    written, chunks of removed or shortened articles are deleted, nothing is duplicated."""
    settings = RetrieverSettings()
    started = time.perf_counter()
    if (store or settings.store) == "haystack":
        console.print(
            f"RETRIEVER_STORE=haystack indexes {settings.kb_dir} in memory when the retriever "
            "starts: nothing to ingest"
        )
        return
    if (store or settings.store) == "local":
        artifacts.build_index(settings)
        console.print(
            f"local index rebuilt in {time.perf_counter() - started:.1f} s -> {settings.index_dir}"
        )
        return
    articles = load_articles(settings.kb_dir)
    with WeaviateKnowledgeIndex.connect(
        url=settings.weaviate_url,
        grpc_port=settings.weaviate_grpc_port,
        api_key=settings.weaviate_api_key_value(),
        collection=settings.weaviate_collection,
        embedder=artifacts.embedder_for(settings),
        timeout_s=settings.weaviate_timeout_s,
    ) as index:
        report = ingest_with_progress(index, articles, recreate=recreate)
    console.print(
        f"{settings.weaviate_url} {settings.weaviate_collection}: {describe(report)} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@weaviate_app.command("build")
def weaviate_build() -> None:
    """Build (once) and cache the weaviate-server binary with `go install`; prints its path."""
    binary = ensure_weaviate_binary(CliSettings().cache_dir)
    console.print(f"weaviate-server: {binary}")


@weaviate_app.command("run")
def weaviate_run(
    data_dir: Annotated[
        Path | None, typer.Option(help="Server data (default var/weaviate).")
    ] = None,
    port: Annotated[int, typer.Option(help="HTTP (REST) port; 0 picks a free one.")] = 8080,
    grpc_port: Annotated[int, typer.Option(help="gRPC port; 0 picks a free one.")] = 50051,
) -> None:
    """Run a local Weaviate on 127.0.0.1 until Ctrl-C (builds it with `go install` on first
    use, several minutes; cached in ~/.cache/supportbus)."""
    settings = CliSettings()
    weaviate = LocalWeaviate(
        LocalWeaviateConfig(
            data_dir=data_dir or settings.work_dir / "weaviate",
            cache_dir=settings.cache_dir,
            http_port=port,
            grpc_port=grpc_port,
        )
    )
    serve(
        weaviate,
        "Weaviate",
        lambda: f"{weaviate.url} (gRPC {weaviate.grpc_port})",
        hint=lambda: (
            f"  RETRIEVER_STORE=weaviate RETRIEVER_WEAVIATE_URL={weaviate.url} "
            f"RETRIEVER_WEAVIATE_GRPC_PORT={weaviate.grpc_port}"
        ),
    )
