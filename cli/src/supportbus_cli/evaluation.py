"""`supportbus eval`: offline measurements of the classifier and the retriever on Banking77-format
CSVs (``text,category``, category = intent)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from supportbus_classifier.linear_model import LinearIntentModel, timed_predict
from supportbus_classifier.training import accuracy_and_macro_f1, read_labelled_csv
from supportbus_cli.progress import embed_with_progress, progress_bar
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import KnowledgeIndex
from supportbus_runtime.embedding import TextEmbedder


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
