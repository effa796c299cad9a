"""The Haystack pieces of ``RETRIEVER_STORE=haystack``: documents, indexing, search pipelines.

Haystack is the retriever's optional ``haystack`` extra (haystack-ai 2.x, fastembed-haystack);
nothing here imports it before :func:`require_haystack`, which turns its absence into
:class:`~supportbus_retriever.errors.StoreExtraMissing` naming the extra. Haystack's usage
telemetry is switched off before its first import (``HAYSTACK_TELEMETRY_ENABLED``, unless set),
and so is its own tracing: the store records one ``vector_search`` span per search, as the other
stores do, and Haystack's spans would start traces of their own on the search thread; its
per-component INFO logs are quieted to warnings.

The documents are the local store's chunks (:func:`supportbus_retriever.chunking.chunk_articles`:
one per markdown section, the "Common questions" included), each embedded as LlamaIndex embeds
it there ("title: ...", the header path, a blank line, the section), so the vectors are the
local store's: the vector side ranks exactly as the local store's vector mode without expansion.
BM25 is Haystack's own (BM25L over the sections' words, no stemming).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from supportbus_retriever.errors import StoreExtraMissing
from supportbus_retriever.kb import KbArticle
from supportbus_runtime.settings import MINILM_MODEL_NAME

if TYPE_CHECKING:
    from haystack import Document, Pipeline
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.fastembed import FastembedTextEmbedder

HaystackMode = Literal["fused", "vector", "lexical"]
HAYSTACK_MODES: tuple[HaystackMode, ...] = ("fused", "vector", "lexical")
EXTRA = "supportbus-retriever[haystack]"
# The meta field holding what LlamaIndex puts before a section when it embeds it.
_EMBEDDING_HEADER = "embedding_header"
# Component names of the search pipeline (their order matters: see search_pipeline).
DENSE, SPARSE, JOINER = "dense", "sparse", "joiner"
# The component whose documents each mode returns.
RESULTS: dict[HaystackMode, str] = {"vector": DENSE, "lexical": SPARSE, "fused": JOINER}


@dataclass(frozen=True)
class HaystackFusion:
    """How deep each retriever looks (chunks) and how the DocumentJoiner weighs their lists.

    Haystack's RRF has k = 61; its plain BM25 (no stemming) is a weak partner, so the vector
    list weighs 3 to 1, the local store's ratio. On 600 texts of the training split (R@1 / R@3
    / MRR): vector alone 0.722 / 0.890 / 0.796, fused 1:1 0.678 / 0.878 / 0.767, 3:1 0.702 /
    0.895 / 0.790 (20 chunks deep: 0.695 / 0.888 / 0.782; 8:1 0.705 / 0.905 / 0.795, within
    the sample's noise of 3:1)."""

    depth: int = 40
    vector_weight: float = 3.0
    lexical_weight: float = 1.0


@dataclass(frozen=True)
class FastembedModel:
    """Where fastembed-haystack loads MiniLM from (None: fastembed's download)."""

    path: Path | None = None
    threads: int | None = None

    def arguments(self) -> dict[str, Any]:
        """FastembedTextEmbedder's / FastembedDocumentEmbedder's model arguments: the
        integration passes ``model_kwargs`` to fastembed's ``TextEmbedding``, which reads a
        local ONNX folder from ``specific_model_path``."""
        local = self.path is not None
        return {
            "model": MINILM_MODEL_NAME,
            "threads": self.threads,
            "local_files_only": local,
            "model_kwargs": {"specific_model_path": str(self.path)} if local else None,
            "progress_bar": False,
        }


def require_haystack() -> None:
    """Import Haystack (telemetry and its tracing off) or say which extra to install."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    try:
        import haystack_integrations.components.embedders.fastembed  # noqa: F401
        from haystack.tracing.tracer import disable_tracing
    except ImportError as error:
        raise StoreExtraMissing(
            f"RETRIEVER_STORE=haystack needs the retriever's haystack extra (haystack-ai, "
            f"fastembed-haystack), not installed here ({error.name} is missing): install "
            f"{EXTRA}, e.g. `uv sync --package supportbus-retriever --extra haystack`"
        ) from error
    disable_tracing()
    # Haystack logs every component of every run at INFO ("Running component dense"): three
    # lines a request. Its warnings stay, unless its level is set elsewhere.
    haystack_log = logging.getLogger("haystack")
    if haystack_log.level == logging.NOTSET:
        haystack_log.setLevel(logging.WARNING)


def chunk_documents(articles: list[KbArticle]) -> list[Document]:
    """The local store's chunks as Haystack documents, with ids stable across builds
    (``<article id>#<section number>``) and the article's id, title and intents as meta."""
    from haystack import Document
    from llama_index.core.schema import MetadataMode

    from supportbus_retriever.chunking import chunk_articles

    documents = []
    position: dict[str, int] = {}
    for node in chunk_articles(articles):
        article_id = str(node.metadata["article_id"])
        index = position[article_id] = position.get(article_id, -1) + 1
        meta = {
            "article_id": article_id,
            "title": node.metadata["title"],
            "intents": node.metadata["intents"],
            "chunk_index": index,
            _EMBEDDING_HEADER: node.get_metadata_str(MetadataMode.EMBED),
        }
        documents.append(
            Document(id=f"{article_id}#{index}", content=node.get_content(), meta=meta)
        )
    return documents


def indexed_store(documents: list[Document], model: FastembedModel) -> InMemoryDocumentStore:
    """An in-memory store holding ``documents``, embedded by an indexing pipeline
    (FastembedDocumentEmbedder -> DocumentWriter)."""
    from haystack import Pipeline
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.fastembed import FastembedDocumentEmbedder

    # Cosine, not Haystack's default dot product: the scores are the other stores' cosines.
    store = InMemoryDocumentStore(embedding_similarity_function="cosine", return_embedding=False)
    indexing = Pipeline()
    indexing.add_component(
        "embedder",
        FastembedDocumentEmbedder(
            **model.arguments(),
            batch_size=8,
            meta_fields_to_embed=[_EMBEDDING_HEADER],
            embedding_separator="\n\n",
        ),
    )
    indexing.add_component("writer", DocumentWriter(store))
    indexing.connect("embedder.documents", "writer.documents")
    # Shortest first, in small batches: each batch is padded to its longest text, so this
    # embeds the 360 sections of data/kb in 9 s instead of 22 (batches of 64 in article order).
    by_length = sorted(documents, key=lambda d: len(d.content or ""))
    indexing.run({"embedder": {"documents": by_length}})
    return store


def text_embedder(model: FastembedModel) -> FastembedTextEmbedder:
    from haystack_integrations.components.embedders.fastembed import FastembedTextEmbedder

    return FastembedTextEmbedder(**model.arguments())


def search_pipeline(
    store: InMemoryDocumentStore, mode: HaystackMode, fusion: HaystackFusion
) -> Pipeline:
    """``mode``'s retrievers over ``store``: ``vector`` an InMemoryEmbeddingRetriever,
    ``lexical`` an InMemoryBM25Retriever, ``fused`` both into a DocumentJoiner by weighted
    reciprocal rank fusion. It takes the query's text and vector (:func:`pipeline_inputs`).

    The query embedder is not a component of it: the joiner's weights apply to its lists in
    the order their retrievers ran, and with a FastembedTextEmbedder before the dense
    retriever, Haystack's scheduler runs the BM25 retriever first (it is ready at once), so
    the weights would swap between the pipeline that embeds and the one given a vector."""
    from haystack import Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )

    pipeline = Pipeline()
    if mode in ("vector", "fused"):
        pipeline.add_component(DENSE, InMemoryEmbeddingRetriever(store, top_k=fusion.depth))
    if mode in ("lexical", "fused"):
        pipeline.add_component(SPARSE, InMemoryBM25Retriever(store, top_k=fusion.depth))
    if mode == "fused":
        # Both retrievers are ready at once; Haystack runs them in the order of their names,
        # dense then sparse, as the weights are listed (tests/test_haystack_store.py holds the
        # weights to their retrievers).
        joiner = DocumentJoiner(
            join_mode="reciprocal_rank_fusion",
            weights=[fusion.vector_weight, fusion.lexical_weight],
        )
        pipeline.add_component(JOINER, joiner)
        pipeline.connect(f"{DENSE}.documents", f"{JOINER}.documents")
        pipeline.connect(f"{SPARSE}.documents", f"{JOINER}.documents")
    return pipeline


def pipeline_inputs(
    pipeline: Pipeline, query: str, vector: list[float] | None, depth: int
) -> dict[str, dict[str, Any]]:
    """What :func:`search_pipeline`'s components are given: the query's text to the BM25
    retriever, its vector to the embedding retriever, and each how many chunks to return."""
    names = set(pipeline.graph.nodes)
    inputs: dict[str, dict[str, Any]] = {}
    if SPARSE in names:
        # Haystack refuses an empty query; a blank one matches no word, so nothing.
        inputs[SPARSE] = {"query": query if query.strip() else " ", "top_k": depth}
    if DENSE in names:
        inputs[DENSE] = {"query_embedding": vector or [], "top_k": depth}
    if JOINER in names:
        inputs[JOINER] = {"top_k": 2 * depth}
    return inputs
