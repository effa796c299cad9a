"""The write side of the Weaviate store: ingest carries out an
:class:`~supportbus_retriever.weaviate_ingest_plan.IngestPlan`.

Vectors are the same MiniLM embeddings as the local store, computed here (the collection has no
vectorizer), from the same chunks (:mod:`supportbus_retriever.chunking`). Chunks are written as
LlamaIndex's Weaviate integration serialises nodes (so the collection is also readable as a
LlamaIndex ``WeaviateVectorStore``), with ``insert_many`` as its async ``add`` does: its sync
``add`` opens a dynamic batch per call that costs about a second in flush polling and drops
failed objects silently.

This module imports LlamaIndex; the store imports it only when it ingests, so serving (and
anything that merely imports the store, e.g. ``supportbus asyncapi``) does not pay for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import weaviate
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship
from llama_index.vector_stores.weaviate.utils import get_data_object
from weaviate.classes.query import Filter
from weaviate.collections import Collection

from supportbus_retriever.chunking import chunk_articles
from supportbus_retriever.errors import IndexUnavailable, VectorStoreQueryFailed
from supportbus_retriever.kb import KbArticle
from supportbus_retriever.weaviate_connection import INGEST_HINT, ensure_collection
from supportbus_retriever.weaviate_ingest_plan import (
    IngestReport,
    StoredChunk,
    WantedChunk,
    chunk_uuid,
    plan_ingest,
)
from supportbus_runtime.embedding import TextEmbedder

_WRITE_BATCH = 64


def ingest(
    client: weaviate.WeaviateClient,
    collection: str,
    articles: list[KbArticle],
    *,
    embedder: TextEmbedder,
    recreate: bool,
    on_progress: Callable[[int, int], None] | None,
) -> IngestReport:
    """Make ``collection`` hold exactly ``articles``' chunks, writing only what changed.

    The library's errors propagate (the store maps them); a rejected write or delete is
    VectorStoreQueryFailed, vectors of another model in the collection IndexUnavailable.
    """
    if recreate and client.collections.exists(collection):
        client.collections.delete(collection)
    ensure_collection(client, collection)
    target = client.collections.get(collection)
    nodes = chunk_nodes(articles, embedder.name)
    plan = plan_ingest(
        [_wanted(node) for node in nodes],
        _stored(target),
        model=embedder.name,
        articles=len(articles),
    )
    if plan.foreign_models:
        raise IndexUnavailable(
            f"Weaviate collection {collection!r} holds vectors from "
            f"{', '.join(plan.foreign_models)}, not {embedder.name}; "
            f"{INGEST_HINT} --recreate"
        )
    by_id = {node.node_id: node for node in nodes}
    _write(target, collection, [by_id[i] for i in plan.write], embedder, on_progress)
    if plan.delete:
        result = target.data.delete_many(where=Filter.by_id().contains_any(list(plan.delete)))
        if result.failed:
            raise VectorStoreQueryFailed(
                f"Weaviate could not delete {result.failed} stale chunk(s) of {collection}"
            )
    return plan.report


def chunk_nodes(articles: list[KbArticle], model: str) -> list[BaseNode]:
    """The shared chunks, with deterministic ids and a content hash each."""
    nodes = chunk_articles(articles)
    position: dict[str, int] = {}
    for node in nodes:
        article_id = str(node.metadata["article_id"])
        index = position[article_id] = position.get(article_id, -1) + 1
        node.id_ = chunk_uuid(article_id, index)
        # Prev/next links name the parser's random ids; only the article link is stable.
        node.relationships = {
            k: v for k, v in node.relationships.items() if k == NodeRelationship.SOURCE
        }
        node.metadata["chunk_index"] = index
        node.metadata["embedding_model"] = model
        node.excluded_embed_metadata_keys = [
            *node.excluded_embed_metadata_keys,
            "chunk_index",
            "embedding_model",
        ]
        node.excluded_llm_metadata_keys = [
            *node.excluded_llm_metadata_keys,
            "chunk_index",
            "embedding_model",
        ]
        node.metadata["content_hash"] = _content_hash(node, model)
        node.excluded_embed_metadata_keys.append("content_hash")
        node.excluded_llm_metadata_keys.append("content_hash")
    return nodes


def _content_hash(node: BaseNode, model: str) -> str:
    """Changes whenever what is embedded, shown or tagged changes (or the model does)."""
    meta = node.metadata
    payload = {
        "embedded": node.get_content(metadata_mode=MetadataMode.EMBED),
        "content": node.get_content(metadata_mode=MetadataMode.NONE),
        "article_id": meta["article_id"],
        "title": meta["title"],
        "intents": meta["intents"],
        "model": model,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _wanted(node: BaseNode) -> WantedChunk:
    return WantedChunk(
        chunk_id=node.node_id,
        article_id=str(node.metadata["article_id"]),
        content_hash=str(node.metadata["content_hash"]),
    )


def _stored(target: Collection[Any, Any]) -> dict[str, StoredChunk]:
    """Every stored chunk, by id: what the plan compares the wanted chunks with."""
    return {
        str(obj.uuid): StoredChunk(
            content_hash=str(obj.properties.get("content_hash") or ""),
            embedding_model=str(obj.properties.get("embedding_model") or ""),
            article_id=str(obj.properties.get("article_id") or ""),
        )
        for obj in target.iterator(
            return_properties=["content_hash", "embedding_model", "article_id"]
        )
    }


def _write(
    target: Collection[Any, Any],
    collection: str,
    nodes: list[BaseNode],
    embedder: TextEmbedder,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Embed and upsert ``nodes`` a batch at a time; ``on_progress(done, total)`` follows."""
    total = len(nodes)
    if on_progress is not None:
        on_progress(0, total)
    done = 0
    for batch in _batches(nodes, _WRITE_BATCH):
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in batch]
        for node, vector in zip(batch, embedder.embed(texts), strict=True):
            node.embedding = vector.tolist()
        # LlamaIndex's own node -> object serialisation (as its async add does), sent as one
        # synchronous gRPC batch: an upsert by UUID that reports each failed object.
        written = target.data.insert_many(
            [get_data_object(node=node, text_key="text") for node in batch]
        )
        if written.has_errors:
            first = next(iter(written.errors.values()))
            raise VectorStoreQueryFailed(
                f"Weaviate rejected {len(written.errors)} chunk(s) of {collection}: {first.message}"
            )
        done += len(batch)
        if on_progress is not None:
            on_progress(done, total)


def _batches(nodes: list[BaseNode], size: int) -> Iterator[list[BaseNode]]:
    for start in range(0, len(nodes), size):
        yield nodes[start : start + size]
