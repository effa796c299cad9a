"""The retriever's knowledge index on a Weaviate server (weaviate-client v4), with hybrid search.

This module is the store's public face (:class:`WeaviateKnowledgeIndex` and the names its users
import); the work is done in smaller modules:

- :mod:`supportbus_retriever.weaviate_connection`: connecting, the collection's schema, and
  mapping the library's errors to the retriever's;
- :mod:`supportbus_retriever.weaviate_search`: search and the service's start check;
- :mod:`supportbus_retriever.weaviate_ingest_plan`: what an ingest must write and delete
  (pure), and :mod:`supportbus_retriever.weaviate_ingest`, which does it.

Ingest is idempotent: every chunk has a deterministic UUID (article id + section number) and a
content hash; re-running writes only new or changed chunks and deletes chunks whose article
shrank or went away. Only ingest needs LlamaIndex, so only ingest imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from weaviate.exceptions import WeaviateBaseError

from supportbus_retriever.kb import KbArticle
from supportbus_retriever.weaviate_connection import (
    INGEST_HINT,
    connect,
    ensure_collection,
    query_error,
)
from supportbus_retriever.weaviate_ingest_plan import IngestReport, chunk_uuid
from supportbus_retriever.weaviate_search import SearchMode, WeaviateSearcher
from supportbus_runtime.embedding import TextEmbedder

__all__ = [
    "INGEST_HINT",
    "IngestReport",
    "SearchMode",
    "WeaviateKnowledgeIndex",
    "chunk_uuid",
    "connect",
]

log = logging.getLogger(__name__)


class WeaviateKnowledgeIndex(WeaviateSearcher):
    """``KnowledgeIndex`` on one Weaviate collection; owns (and closes) its client.

    Searching, the start check and closing come from :class:`WeaviateSearcher`; this adds
    connecting by URL and filling the collection.
    """

    @classmethod
    def connect(
        cls,
        *,
        url: str,
        grpc_port: int,
        collection: str,
        embedder: TextEmbedder,
        api_key: str | None = None,
        mode: SearchMode = "hybrid",
        alpha: float = 0.5,
        timeout_s: float = 10.0,
    ) -> WeaviateKnowledgeIndex:
        client = connect(url, grpc_port, api_key=api_key, timeout_s=timeout_s)
        return cls(
            client, collection, embedder=embedder, mode=mode, alpha=alpha, deadline_s=timeout_s
        )

    def ensure_collection(self) -> None:
        """Create the collection (no vectorizer, cosine HNSW, declared properties) if missing."""
        ensure_collection(self._client, self.collection_name)

    def drop_collection(self) -> None:
        self._client.collections.delete(self.collection_name)

    def ingest(
        self,
        articles: list[KbArticle],
        *,
        recreate: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Make the collection hold exactly ``articles``' chunks, writing only what changed.

        ``on_progress(done, total)`` follows the chunks being embedded and written.
        """
        # Deferred: it imports LlamaIndex (seconds), which nothing but ingest needs.
        from supportbus_retriever.weaviate_ingest import ingest

        try:
            report = ingest(
                self._client,
                self.collection_name,
                articles,
                embedder=self._embedder,
                recreate=recreate,
                on_progress=on_progress,
            )
        except WeaviateBaseError as error:
            raise query_error(error, self.collection_name) from error
        log.info("ingested into %s: %s", self.collection_name, report)
        return report
