"""`supportbus eval`: offline measurements of the classifier and the retriever on Banking77-format
CSVs (``text,category``, category = intent)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from supportbus_classifier.linear_model import LinearIntentModel, timed_predict
from supportbus_classifier.training import accuracy_and_macro_f1, read_labelled_csv
from supportbus_cli.progress import embed_with_progress, progress_bar
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import KnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import TextEmbedder

StoreName = Literal["local", "weaviate"]
SearchMode = Literal["vector", "hybrid"]


@dataclass(frozen=True)
class ClassifyReport:
    accuracy: float
    macro_f1: float
    ms_per_request: float
    train_examples: int
    test_examples: int


@dataclass(frozen=True)
class RetrieveReport:
    recall_at_1: float
    recall_at_k: float
    mrr: float
    k: int
    queries: int


def evaluate_classifier(
    train_csv: Path, test_csv: Path, *, embedder: TextEmbedder
) -> ClassifyReport:
    train_data, test_data = read_labelled_csv(train_csv), read_labelled_csv(test_csv)
    vectors = embed_with_progress(embedder, train_data.texts, "embedding training texts")
    model = LinearIntentModel.train(
        train_data.texts, train_data.labels, embedder=embedder, vectors=vectors
    )
    # One request at a time, as the service classifies: the honest per-request cost.
    predictions: list[str] = []
    ms_total = 0.0
    with progress_bar() as progress:
        task = progress.add_task("classifying test texts", total=len(test_data))
        for start in range(0, len(test_data), 50):
            chunk = test_data.texts[start : start + 50]
            chunk_predictions, ms = timed_predict(model, chunk)
            predictions.extend(p.intent for p in chunk_predictions)
            ms_total += ms * len(chunk)
            progress.advance(task, len(chunk))
    accuracy, macro_f1 = accuracy_and_macro_f1(test_data.labels, predictions)
    return ClassifyReport(
        accuracy, macro_f1, ms_total / max(len(test_data), 1), len(train_data), len(test_data)
    )


def evaluate_retrieval(
    test_csv: Path,
    *,
    kb_dir: Path,
    embedder: TextEmbedder,
    k: int = 3,
    index: KnowledgeIndex | None = None,
) -> RetrieveReport:
    """A hit is an article tagged with the row's intent among the top k (pure retrieval on the
    customer's text: no help from the classifier)."""
    data = read_labelled_csv(test_csv)
    if index is None:
        with tempfile.TemporaryDirectory() as scratch:
            index = LlamaIndexKnowledgeIndex.build(kb_dir, Path(scratch), embedder=embedder)
    hits_at_1 = hits_at_k = 0
    reciprocal_ranks = 0.0
    with progress_bar() as progress:
        task = progress.add_task(f"retrieving top {k}", total=len(data))
        for text, intent in zip(data.texts, data.labels, strict=True):
            ranked = index.search(text, k)
            rank = next((i for i, hit in enumerate(ranked, 1) if intent in hit.intents), None)
            if rank is not None:
                hits_at_k += 1
                hits_at_1 += rank == 1
                reciprocal_ranks += 1 / rank
            progress.advance(task)
    n = max(len(data), 1)
    return RetrieveReport(hits_at_1 / n, hits_at_k / n, reciprocal_ranks / n, k, len(data))


def resolve_store_and_mode(
    settings: RetrieverSettings, store: StoreName | None, mode: SearchMode | None
) -> tuple[StoreName, SearchMode]:
    """Options win over settings; the local store only does vector search."""
    chosen_store: StoreName = store or settings.store
    if chosen_store == "local":
        if mode == "hybrid":
            raise ValueError(
                "hybrid search needs --store weaviate (the local store is vector only)"
            )
        return chosen_store, "vector"
    return chosen_store, mode or settings.search_mode


@contextmanager
def retrieval_index(
    settings: RetrieverSettings,
    *,
    store: StoreName,
    mode: SearchMode,
    embedder: TextEmbedder,
) -> Iterator[KnowledgeIndex]:
    """An index over the articles in ``settings.kb_dir`` as they are now, in the chosen store.

    Like the local store (built in a scratch dir), the Weaviate store is filled into a scratch
    collection on the configured server and dropped afterwards: the evaluation measures the
    knowledge base in the checkout and never touches the collection the service reads.
    """
    if store == "local":
        with tempfile.TemporaryDirectory() as scratch:
            yield LlamaIndexKnowledgeIndex.build(settings.kb_dir, Path(scratch), embedder=embedder)
        return
    from supportbus_cli.kb_command import ingest_with_progress
    from supportbus_retriever.weaviate_store import WeaviateKnowledgeIndex

    index = WeaviateKnowledgeIndex.connect(
        url=settings.weaviate_url,
        grpc_port=settings.weaviate_grpc_port,
        api_key=settings.weaviate_api_key_value(),
        collection=f"{settings.weaviate_collection}Eval{uuid.uuid4().hex[:8]}",
        embedder=embedder,
        mode=mode,
        alpha=settings.hybrid_alpha,
        timeout_s=settings.weaviate_timeout_s,
    )
    with index:
        try:
            ingest_with_progress(index, load_articles(settings.kb_dir))
            yield index
        finally:
            index.drop_collection()


def retrieval_eval(
    test_csv: Path,
    *,
    settings: RetrieverSettings,
    embedder: TextEmbedder,
    k: int = 3,
    store: StoreName | None = None,
    mode: SearchMode | None = None,
) -> dict[str, float | int | str]:
    """``supportbus eval retrieve``: the metrics, and which store and search mode made them."""
    chosen_store, chosen_mode = resolve_store_and_mode(settings, store, mode)
    with retrieval_index(
        settings, store=chosen_store, mode=chosen_mode, embedder=embedder
    ) as index:
        report = evaluate_retrieval(
            test_csv, kb_dir=settings.kb_dir, embedder=embedder, k=k, index=index
        )
    result: dict[str, float | int | str] = {
        "recall_at_1": round(report.recall_at_1, 4),
        "recall_at_k": round(report.recall_at_k, 4),
        "mrr": round(report.mrr, 4),
        "k": report.k,
        "queries": report.queries,
        "store": chosen_store,
        "mode": chosen_mode,
    }
    if chosen_store == "weaviate" and chosen_mode == "hybrid":
        result["alpha"] = settings.hybrid_alpha
    return result
