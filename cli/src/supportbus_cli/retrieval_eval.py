"""`supportbus eval retrieve`: the retriever measured on a Banking77-format CSV (``text,category``,
category = intent), one search mode or several side by side over one build of the index.

The local index is built with question expansion only from ``train_csv`` (``--train``), never
from the settings' CSV, which holds the test rows too; a ``--train`` that shares a text with
``--test`` is refused (or, asked to, those texts are left out of the expansion)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from supportbus_classifier.training import read_labelled_csv
from supportbus_cli.progress import progress_bar
from supportbus_retriever.expansion import NO_EXPANSION, Expansion
from supportbus_retriever.haystack_store import HaystackKnowledgeIndex
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex, LocalMode
from supportbus_retriever.ports import KnowledgeIndex
from supportbus_retriever.settings import (
    STORE_MODES,
    RetrieverSettings,
    SearchMode,
    StoreName,
)
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.errors import ConfigurationError

Result = dict[str, float | int | str]
_METRICS = ("recall_at_1", "recall_at_k", "mrr")


@dataclass(frozen=True)
class RetrieveReport:
    recall_at_1: float
    recall_at_k: float
    mrr: float
    k: int
    queries: int


def evaluate_retrieval(
    test_csv: Path,
    *,
    kb_dir: Path,
    embedder: TextEmbedder,
    k: int = 3,
    index: KnowledgeIndex | None = None,
    label: str = "",
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
        task = progress.add_task(f"retrieving top {k}{label}", total=len(data))
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


def resolve_store_and_modes(
    settings: RetrieverSettings, store: StoreName | None, modes: Sequence[str] | None
) -> tuple[StoreName, list[SearchMode]]:
    """Options win over settings. No --mode: RETRIEVER_SEARCH_MODE if the store has it (it may
    be set for the other store), else the store's default; ``all``: every mode of the store."""
    chosen: StoreName = store or settings.store
    own = STORE_MODES[chosen]
    if not modes:
        configured = settings.search_mode
        return chosen, [configured if configured in own else own[0]]
    if "all" in modes:
        return chosen, list(own)
    resolved: list[SearchMode] = []
    for mode in modes:
        if mode not in own:
            other = [s for s, m in STORE_MODES.items() if mode in m]
            hint = f"; {mode} needs --store {other[0]}" if other else ""
            raise ConfigurationError(
                f"--mode {mode}: the {chosen} store searches {'|'.join(own)} (or all){hint}"
            )
        if mode not in resolved:
            resolved.append(mode)
    return chosen, resolved


@contextmanager
def retrieval_index(
    settings: RetrieverSettings,
    *,
    store: StoreName,
    mode: SearchMode,
    embedder: TextEmbedder,
) -> Iterator[KnowledgeIndex]:
    """An index over the articles in ``settings.kb_dir`` as they are now, in the chosen store.

    Like the local store (built in a scratch dir) and the Haystack one (in memory), the
    Weaviate store is filled into a scratch collection on the configured server and dropped
    afterwards: the evaluation measures the knowledge base in the checkout and never touches
    the collection the service reads.
    """
    if store != "weaviate":
        with _one_build(settings, store, embedder, NO_EXPANSION) as built:
            yield built.with_mode(cast(LocalMode, mode))
        return
    from supportbus_cli.kb_command import ingest_with_progress
    from supportbus_retriever.weaviate_store import SearchMode as WeaviateMode
    from supportbus_retriever.weaviate_store import WeaviateKnowledgeIndex

    index = WeaviateKnowledgeIndex.connect(
        url=settings.weaviate_url,
        grpc_port=settings.weaviate_grpc_port,
        api_key=settings.weaviate_api_key_value(),
        collection=f"{settings.weaviate_collection}Eval{uuid.uuid4().hex[:8]}",
        embedder=embedder,
        mode=cast(WeaviateMode, mode),
        alpha=settings.hybrid_alpha,
        timeout_s=settings.weaviate_timeout_s,
    )
    with index:
        try:
            ingest_with_progress(index, load_articles(settings.kb_dir))
            yield index
        finally:
            index.drop_collection()


def eval_expansion(
    test_csv: Path, train_csv: Path | None, *, drop_overlap: bool = False
) -> tuple[Expansion, int]:
    """The expansion questions of an evaluation: ``train_csv``'s texts (none without it), and
    how many texts of ``test_csv`` were also in it. ValueError when some are, unless
    ``drop_overlap`` (then they are left out of the expansion: no test text is ever indexed)."""
    if train_csv is None:
        return NO_EXPANSION, 0
    questions = Expansion.read(train_csv)
    tests = read_labelled_csv(test_csv).texts
    overlap = questions.overlap(tests)
    if overlap and not drop_overlap:
        raise ConfigurationError(
            f"{overlap} text(s) of --test {test_csv} are also in --train {train_csv} (compared "
            "case- and space-insensitively): indexing them as expansion questions would score "
            "the retriever on its own index. Use a disjoint split, or --drop-overlap to leave "
            "them out of the expansion."
        )
    return (questions.without(tests) if overlap else questions), overlap


def retrieval_evals(
    test_csv: Path,
    *,
    settings: RetrieverSettings,
    embedder: TextEmbedder,
    k: int = 3,
    store: StoreName | None = None,
    modes: Sequence[str] | None = None,
    train_csv: Path | None = None,
    drop_overlap: bool = False,
) -> list[Result]:
    """``supportbus eval retrieve``: the metrics of each mode, and the store and mode behind them.
    The local modes share one build (with ``train_csv``'s texts as expansion questions, if
    given), so do the Haystack modes (one in-memory store); each Weaviate mode gets its own
    scratch collection."""
    chosen_store, chosen_modes = resolve_store_and_modes(settings, store, modes)
    if train_csv is not None and chosen_store != "local":
        raise ConfigurationError("--train (question expansion) is for the local store only")
    expansion, overlap = eval_expansion(test_csv, train_csv, drop_overlap=drop_overlap)

    def label(mode: str) -> str:
        return f" ({mode})" if len(chosen_modes) > 1 else ""

    results: list[Result] = []
    if chosen_store != "weaviate":
        with _one_build(settings, chosen_store, embedder, expansion) as built:
            for mode in chosen_modes:
                view = built.with_mode(cast(LocalMode, mode))
                report = evaluate_retrieval(
                    test_csv,
                    kb_dir=settings.kb_dir,
                    embedder=embedder,
                    k=k,
                    index=view,
                    label=label(mode),
                )
                result = _result(report, chosen_store, mode, settings)
                if isinstance(built, LlamaIndexKnowledgeIndex):
                    result["expansion_questions"] = len(expansion)
                    result["expansion_units"] = (built.expansion or {}).get("attached", 0)
                if overlap:
                    result["overlap_dropped"] = overlap
                results.append(result)
        return results
    for mode in chosen_modes:
        with retrieval_index(settings, store=chosen_store, mode=mode, embedder=embedder) as index:
            report = evaluate_retrieval(
                test_csv,
                kb_dir=settings.kb_dir,
                embedder=embedder,
                k=k,
                index=index,
                label=label(mode),
            )
        results.append(_result(report, chosen_store, mode, settings))
    return results


@contextmanager
def _one_build(
    settings: RetrieverSettings, store: StoreName, embedder: TextEmbedder, expansion: Expansion
) -> Iterator[LlamaIndexKnowledgeIndex | HaystackKnowledgeIndex]:
    """The index every mode of a local or Haystack evaluation searches (``with_mode``)."""
    if store == "haystack":
        yield HaystackKnowledgeIndex.build(
            settings.kb_dir,
            embedder=embedder,
            model_path=settings.resolved_model_path(settings.shared_dir),
            threads=settings.embedding_threads,
        )
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield LlamaIndexKnowledgeIndex.build(
            settings.kb_dir, Path(scratch), embedder=embedder, expansion=expansion
        )


def retrieval_eval(
    test_csv: Path,
    *,
    settings: RetrieverSettings,
    embedder: TextEmbedder,
    k: int = 3,
    store: StoreName | None = None,
    mode: SearchMode | None = None,
    train_csv: Path | None = None,
) -> Result:
    """One mode (default: the configured or the store's own)."""
    (result,) = retrieval_evals(
        test_csv,
        settings=settings,
        embedder=embedder,
        k=k,
        store=store,
        modes=[mode] if mode else None,
        train_csv=train_csv,
    )
    return result


def _result(
    report: RetrieveReport, store: StoreName, mode: SearchMode, settings: RetrieverSettings
) -> Result:
    result: Result = {
        "recall_at_1": round(report.recall_at_1, 4),
        "recall_at_k": round(report.recall_at_k, 4),
        "mrr": round(report.mrr, 4),
        "k": report.k,
        "queries": report.queries,
        "store": store,
        "mode": mode,
    }
    if store == "weaviate" and mode == "hybrid":
        result["alpha"] = settings.hybrid_alpha
    return result


def modes_table(results: Sequence[Result]) -> str:
    """Several modes side by side, one row each."""
    first = results[0]
    at_k = f"recall@{first['k']}"
    expanded = (
        f", expansion: {first['expansion_questions']} questions from --train"
        + (
            f" ({first['overlap_dropped']} shared with --test left out)"
            if first.get("overlap_dropped")
            else ""
        )
        if first.get("expansion_questions")
        else (", articles only (no --train)" if first["store"] == "local" else "")
    )
    lines = [
        f"store {first['store']}, k {first['k']}, {first['queries']} queries{expanded}",
        f"{'mode':<8} {'recall@1':>9} {at_k:>9} {'MRR':>7}",
    ]
    for result in results:
        name = str(result["mode"])
        if "alpha" in result:
            name += f" α {result['alpha']}"
        lines.append(
            f"{name:<8} "
            + " ".join(f"{result[m]:>9.4f}" for m in _METRICS[:2])
            + f" {result['mrr']:>7.4f}"
        )
    return "\n".join(lines)
