"""Creating what the services load at start: the intent model and the knowledge index."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from supportbus_classifier.errors import ClassifierError
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import LabelledTexts, ensure_banking77, read_labelled_csv
from supportbus_cli.progress import console, embed_with_progress
from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.expansion import NO_EXPANSION, Expansion, configured_expansion
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import MiniLMEmbedder, TextEmbedder


def embedder_for(settings: ClassifierSettings | RetrieverSettings) -> MiniLMEmbedder:
    """For the batch jobs (train, index build, eval): every core unless the setting is given,
    since nothing else runs beside them; a service's default of one thread is for sharing."""
    chosen = "embedding_threads" in settings.model_fields_set
    return MiniLMEmbedder(
        settings.resolved_model_path(settings.shared_dir),
        threads=settings.embedding_threads if chosen else None,
    )


@dataclass(frozen=True)
class TrainReport:
    path: Path
    examples: int
    intents: int
    seconds: float


def fit_intent_model(data: LabelledTexts, embedder: TextEmbedder) -> LinearIntentModel:
    """The intent model for ``data``, showing progress (embedding, then each fitting step)."""
    vectors = embed_with_progress(embedder, data.texts, "embedding training texts")
    return LinearIntentModel.train(
        data.texts,
        data.labels,
        embedder=embedder,
        vectors=vectors,
        on_step=lambda step: console.print(f"fitting the intent classifier: {step}"),
    )


def train(
    data: LabelledTexts, out: Path, *, taxonomy: Taxonomy, embedder: TextEmbedder
) -> TrainReport:
    start = time.perf_counter()
    unknown = set(data.labels) - taxonomy.intents.keys()
    if unknown:
        raise ClassifierError(f"training labels missing from the taxonomy: {sorted(unknown)[:10]}")
    model = fit_intent_model(data, embedder)
    model.save(out)
    return TrainReport(out, len(data), len(model.labels), time.perf_counter() - start)


def ensure_model(settings: ClassifierSettings, data_path: Path) -> None:
    """Train the model when it is missing or stale (the demo's first run)."""
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    embedder = embedder_for(settings)
    try:
        LinearIntentModel.load(settings.model_path, embedder=embedder, taxonomy=taxonomy)
        return
    except ClassifierError as reason:
        console.print(f"[yellow]{reason}[/] — training it now")
    report = train(
        read_labelled_csv(ensure_banking77(data_path)),
        settings.model_path,
        taxonomy=taxonomy,
        embedder=embedder,
    )
    console.print(
        f"trained on {report.examples} examples in {report.seconds:.1f} s -> {report.path}"
    )


def expansion_for(settings: RetrieverSettings) -> Expansion:
    """The questions the index is built with (RETRIEVER_EXPANSION, RETRIEVER_EXPANSION_CSV):
    none, said once, when the CSV is missing."""
    path = settings.expansion_path()
    if path is not None and not path.is_file():
        console.print(
            f"[yellow]no expansion questions at {path}[/]: indexing the articles alone "
            "(RETRIEVER_EXPANSION_CSV points at a text,category CSV; RETRIEVER_EXPANSION=false)"
        )
        return NO_EXPANSION
    return configured_expansion(path)


def build_index(
    settings: RetrieverSettings, expansion: Expansion | None = None
) -> LlamaIndexKnowledgeIndex:
    questions = expansion_for(settings) if expansion is None else expansion
    with console.status(f"indexing the articles in {settings.kb_dir}..."):
        return LlamaIndexKnowledgeIndex.build(
            settings.kb_dir,
            settings.index_dir,
            embedder=embedder_for(settings),
            expansion=questions,
        )


def ensure_index(settings: RetrieverSettings) -> None:
    """Build the index when it is missing or stale: other articles, embedding model, format,
    or expansion questions than the settings' (their sha256 is in the manifest)."""
    expansion = expansion_for(settings)
    try:
        LlamaIndexKnowledgeIndex.load(
            settings.index_dir,
            embedder=embedder_for(settings),
            kb_dir=settings.kb_dir,
            expansion=expansion,
        )
    except IndexUnavailable as reason:
        console.print(f"[yellow]{reason}[/] — building it now")
        build_index(settings, expansion)
