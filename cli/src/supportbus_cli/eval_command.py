"""``supportbus eval classify|retrieve`` (offline scores on Banking77-format CSVs) and
``supportbus data split``; main.py wires them in with ``register(app)``. Errors are left to
the app's one translation (``supportbus_cli.errors``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import typer

from supportbus_classifier.app import handoff_policy
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import ensure_banking77, read_labelled_csv, stratified_split
from supportbus_cli import artifacts
from supportbus_cli.classify_eval import evaluate_classifier, plot_reliability, report_lines
from supportbus_cli.progress import console
from supportbus_cli.retrieval_eval import modes_table, retrieval_evals
from supportbus_cli.settings import CliSettings
from supportbus_retriever.settings import RetrieverSettings

eval_app = typer.Typer(help="Offline evaluations on Banking77-format CSVs.", no_args_is_help=True)
data_app = typer.Typer(help="Datasets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``eval`` and ``data`` command groups to ``app``."""
    app.add_typer(eval_app, name="eval")
    app.add_typer(data_app, name="data")


@eval_app.command("classify")
def eval_classify(
    train_csv: Annotated[Path, typer.Option("--train", help="Training CSV.")],
    test_csv: Annotated[Path, typer.Option("--test", help="Test CSV (only scored).")],
    plot: Annotated[
        Path | None, typer.Option(help="Write a reliability diagram to this PNG.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Train on TRAIN, predict TEST: accuracy, macro-F1, calibration error, ms per request,
    the most confused intents, F1 per category, what each confidence threshold sends on, and
    the share the handoff policy (CLASSIFIER_HANDOFF_*) sends to a person."""
    settings = ClassifierSettings()
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    report = evaluate_classifier(
        train_csv,
        test_csv,
        embedder=artifacts.embedder_for(settings),
        taxonomy=taxonomy,
        handoff=handoff_policy(settings, taxonomy),
    )
    if plot is not None:
        plot_reliability(report, plot)
        console.print(f"reliability diagram -> {plot}")
    if as_json:
        print(json.dumps(report.summary()))
        return
    print("\n".join(report_lines(report)))


@eval_app.command("retrieve")
def eval_retrieve(
    test_csv: Annotated[Path, typer.Option("--test", help="Test CSV.")],
    k: Annotated[int, typer.Option(min=1, max=20)] = 3,
    store: Annotated[
        Literal["local", "weaviate", "haystack"] | None,
        typer.Option(help="Vector store (default: RETRIEVER_STORE, else local)."),
    ] = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            help="local and haystack: vector, lexical or fused; weaviate: vector or hybrid; all: "
            "every mode of the store side by side (repeat --mode for a few). Default: "
            "RETRIEVER_SEARCH_MODE if the store has it, else fused (local, haystack) / hybrid "
            "(weaviate)."
        ),
    ] = None,
    train_csv: Annotated[
        Path | None,
        typer.Option(
            "--train",
            help="local: index these labelled texts (text,category) as expansion questions of "
            "the articles tagged with their intent (default: none, the articles alone; the "
            "settings' CSV is never used here, it holds the test rows too).",
        ),
    ] = None,
    drop_overlap: Annotated[
        bool,
        typer.Option(help="Leave --test's texts out of the --train expansion instead of refusing."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """For each row, a hit when an article tagged with its intent is in the top k."""
    settings = RetrieverSettings()
    results = retrieval_evals(
        test_csv,
        settings=settings,
        embedder=artifacts.embedder_for(settings),
        k=k,
        store=store,
        modes=mode,
        train_csv=train_csv,
        drop_overlap=drop_overlap,
    )
    if len(results) == 1:
        _report(results[0], as_json)
    elif as_json:
        print(json.dumps({"results": results}))
    else:
        print(modes_table(results))


def _report(result: Mapping[str, float | int | str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>16}: {value}")


@data_app.command("split")
def data_split(
    out_dir: Annotated[Path, typer.Option(help="Where TRAIN.csv and TEST.csv are written.")],
    data: Annotated[Path | None, typer.Option(help="Banking77-format CSV.")] = None,
    test_fraction: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Share of each intent held out.")
    ] = 0.2,
    seed: int = 7,
) -> None:
    """Stratified split of a labelled CSV into train.csv and test.csv (held out per intent)."""
    import csv

    labelled = read_labelled_csv(ensure_banking77(data or CliSettings().banking77_train()))
    train_part, test_part = stratified_split(labelled, test_fraction, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in (("train.csv", train_part), ("test.csv", test_part)):
        with (out_dir / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            writer.writerows(zip(part.texts, part.labels, strict=True))
        console.print(f"{out_dir / name}: {len(part)} rows")
