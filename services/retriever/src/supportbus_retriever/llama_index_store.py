"""The embedded default vector store: LlamaIndex's local, persisted SimpleVectorStore.

Chunking, embedding and folding chunk hits per article are shared with the other stores
(:mod:`supportbus_retriever.chunking`).

LlamaIndex builds and persists the index; searching goes through a matrix of its stored chunk
vectors instead of SimpleVectorStore's query, which is plain Python over every chunk (about 17 ms
for the 360 chunks of data/kb, holding the GIL: one retriever process could not pass ~58
searches a second). The same exact cosine ranking is one numpy product, well under a millisecond,
run on a thread of its own so the loop never waits on it. The matrix is persisted with the index
(:mod:`supportbus_retriever.snapshot`), so serving loads it without importing LlamaIndex.

Beside the vectors the store keeps a BM25 index of the articles' words
(:mod:`supportbus_retriever.lexical`), built and persisted with them. ``fused`` ranks the
articles of both searches by weighted reciprocal rank fusion (:mod:`supportbus_retriever.fusion`);
``vector`` and ``lexical`` serve one side alone.

Built with labelled questions (:mod:`supportbus_retriever.expansion`, the default: the
Banking77 training CSV), each question counts for the articles tagged with its intent twice:
as a BM25 unit, and as a vector (an article's cosine is the best of its sections' and its
questions'). Both, because 5-fold cross-validation on the training texts chose both
(benchmarks/retrieval_tuning.py): fused recall@3 0.975 with questions on both sides, 0.964
with BM25 questions only, 0.970 for the vectors with questions alone, 0.905 with none. Hits'
title and snippet always come from the article's best section, never from a question, and the
snapshot keeps only the questions' vectors and intents, not their text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from opentelemetry.trace import Span

from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.expansion import NO_EXPANSION, Expansion
from supportbus_retriever.fusion import (
    FusionParams,
    fusion_for,
    reciprocal_rank_fusion,
)
from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit
from supportbus_retriever.kb import KbArticle, digest, load_articles
from supportbus_retriever.lexical import (
    EXPANDED_LEXICAL,
    LexicalIndex,
    LexicalParams,
    build_lexical,
)
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.search_thread import SearchThread
from supportbus_retriever.snapshot import ChunkSnapshot, QuestionVectors
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

MANIFEST = "supportbus-manifest.json"
# 2: with the serving snapshot; 3: with the BM25 index; 4: with question expansion
INDEX_FORMAT = 4
_REBUILD_HINT = "run `supportbus index build` to (re)create it"

LocalMode = Literal["vector", "lexical", "fused"]
LOCAL_MODES: tuple[LocalMode, ...] = ("vector", "lexical", "fused")


class LlamaIndexKnowledgeIndex:
    def __init__(
        self,
        chunks: ChunkSnapshot,
        embedder: TextEmbedder,
        lexical: LexicalIndex,
        *,
        mode: LocalMode = "fused",
        fusion: FusionParams | None = None,
        expansion: dict[str, Any] | None = None,
        questions: QuestionVectors | None = None,
    ) -> None:
        if mode not in LOCAL_MODES:
            raise ValueError(f"the local store searches {'|'.join(LOCAL_MODES)}, not {mode!r}")
        self._embedder = embedder
        self._thread = SearchThread("vector-search")
        self._chunks = chunks
        self._lexical = lexical
        self.mode: LocalMode = mode
        # What the manifest says of the questions indexed (None: built without).
        self.expansion = expansion if expansion and expansion.get("attached") else None
        self._fusion = fusion or fusion_for(self.expansion is not None)
        # An article found by BM25 alone is shown with its first section.
        self._first_chunk: dict[str, ArticleHit] = {}
        for hit in chunks.hits():
            self._first_chunk.setdefault(hit.article_id, hit)
        self._questions = questions if questions is not None and len(questions) else None
        if self._questions is not None:
            # Article x intent: which intents' questions count for which article.
            tags = {h.article_id: set(h.intents) for h in self._first_chunk.values()}
            self._article_ids = sorted(tags)
            self._tagged = np.asarray(
                [[i in tags[a] for i in self._questions.intents] for a in self._article_ids]
            )

    def with_mode(self, mode: LocalMode) -> LlamaIndexKnowledgeIndex:
        """The same index searched another way (the evaluation compares them in one build)."""
        return LlamaIndexKnowledgeIndex(
            self._chunks,
            self._embedder,
            self._lexical,
            mode=mode,
            fusion=self._fusion,
            expansion=self.expansion,
            questions=self._questions,
        )

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

    @classmethod
    def build(
        cls,
        kb_dir: Path,
        index_dir: Path,
        *,
        embedder: TextEmbedder,
        mode: LocalMode = "fused",
        lexical_params: LexicalParams | None = None,
        expansion: Expansion = NO_EXPANSION,
    ) -> LlamaIndexKnowledgeIndex:
        """``expansion``: labelled questions indexed (BM25 only) with the articles tagged with
        their intent; questions of an intent no article has are left out."""
        from llama_index.core import VectorStoreIndex

        from supportbus_retriever.chunking import LlamaEmbeddingAdapter, chunk_articles

        articles = load_articles(kb_dir)
        nodes = chunk_articles(articles)
        index = VectorStoreIndex(nodes, embed_model=LlamaEmbeddingAdapter(embedder))
        index_dir.mkdir(parents=True, exist_ok=True)
        index.storage_context.persist(persist_dir=str(index_dir))
        embeddings: dict[str, list[float]] = index.vector_store.to_dict()["embedding_dict"]
        hits = {
            n.node_id: chunk_hit(n.metadata, n.get_content(), 0.0)
            for n in index.docstore.get_nodes(sorted(embeddings))
        }
        chunks = ChunkSnapshot.of(embeddings, hits)
        chunks.save(index_dir)
        attached = len(expansion.attached(articles))
        params = lexical_params or (EXPANDED_LEXICAL if attached else LexicalParams())
        lexical = build_lexical(articles, params, expansion)
        lexical.save(index_dir)
        questions = _embed_questions(expansion, articles, embedder)
        questions.save(index_dir)
        expansion_manifest = {**expansion.manifest(attached), "vectors": len(questions)}
        manifest = {
            "format": INDEX_FORMAT,
            "kb_digest": digest(articles),
            "embedding_model": embedder.name,
            "articles": len(articles),
            "chunks": len(nodes),
            "lexical_documents": len(lexical),
            "lexical": asdict(params),
            "expansion": expansion_manifest,
            "fusion": asdict(fusion_for(attached > 0)),
        }
        (index_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        log.info(
            "indexed %d articles as %d chunks and %d BM25 units (%d of them questions) into %s",
            len(articles),
            len(nodes),
            len(lexical),
            attached,
            index_dir,
        )
        return cls(
            chunks,
            embedder,
            lexical,
            mode=mode,
            expansion=expansion_manifest,
            questions=questions,
        )

    @classmethod
    def load(
        cls,
        index_dir: Path,
        *,
        embedder: TextEmbedder,
        kb_dir: Path | None = None,
        mode: LocalMode = "fused",
        expansion: Expansion | None = None,
    ) -> LlamaIndexKnowledgeIndex:
        """Refuses (IndexUnavailable) an index of another format or embedding model, one built
        before the articles in ``kb_dir`` changed, and, given ``expansion``, one built with other
        questions (None: not checked; the service serves whatever index it was given)."""
        manifest_path = index_dir / MANIFEST
        if not manifest_path.is_file():
            raise IndexUnavailable(f"no knowledge index in {index_dir}: {_REBUILD_HINT}")
        manifest = json.loads(manifest_path.read_text())
        problems = []
        if manifest.get("format") != INDEX_FORMAT:
            problems.append(
                f"it is in index format {manifest.get('format')}, this retriever reads format "
                f"{INDEX_FORMAT} (with the BM25 index)"
            )
        if manifest.get("embedding_model") != embedder.name:
            problems.append(f"built with {manifest.get('embedding_model')}, not {embedder.name}")
        if kb_dir is not None and manifest.get("kb_digest") != digest(load_articles(kb_dir)):
            problems.append(f"the articles in {kb_dir} changed since it was built")
        built_with = manifest.get("expansion") or {}
        if expansion is not None and built_with.get("sha256") != expansion.sha256:
            problems.append(
                f"built with {built_with.get('questions', 0)} expansion questions "
                f"({built_with.get('source') or 'none'}), not these {len(expansion)} "
                f"({expansion.source or 'none'})"
            )
        if problems:
            raise IndexUnavailable(
                f"knowledge index {index_dir} is stale: {'; '.join(problems)}; {_REBUILD_HINT}"
            )
        try:
            chunks = ChunkSnapshot.load(index_dir)
            lexical = LexicalIndex.load(index_dir)
            questions = QuestionVectors.load(index_dir)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise IndexUnavailable(
                f"knowledge index {index_dir} is unreadable ({error}); {_REBUILD_HINT}"
            ) from error
        if len(chunks) != manifest.get("chunks"):
            raise IndexUnavailable(
                f"knowledge index {index_dir} holds {len(chunks)} chunks, its manifest says "
                f"{manifest.get('chunks')}; {_REBUILD_HINT}"
            )
        if len(questions) != built_with.get("vectors", 0):
            raise IndexUnavailable(
                f"knowledge index {index_dir} holds {len(questions)} question vectors, its "
                f"manifest says {built_with.get('vectors', 0)}; {_REBUILD_HINT}"
            )
        return cls(chunks, embedder, lexical, mode=mode, expansion=built_with, questions=questions)

    def search(self, query: str, k: int) -> list[ArticleHit]:
        # BM25 alone needs no embedding: the evaluation of lexical mode costs no model call.
        vector = [] if self.mode == "lexical" else self._embedder.embed([query])[0].tolist()
        with _tracer.start_as_current_span("vector_search") as span:
            return self._search(span, query, vector, k)

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        with _tracer.start_as_current_span("vector_search") as span:
            return await self._thread.run(self._search, span, query, list(vector), k)

    def _search(self, span: Span, query: str, vector: list[float], k: int) -> list[ArticleHit]:
        span.set_attribute("supportbus.vector_store", "llama-index-simple")
        span.set_attribute("supportbus.search_mode", self.mode)
        span.set_attribute("supportbus.k", k)
        if self.mode == "lexical":
            return [
                replace(self._first_chunk[article_id], score=score)
                for article_id, score in self._lexical.ranking(query, k)
            ]
        if self.mode == "vector":
            if self._questions is not None:
                return self._vector_ranking(vector)[:k]
            hits = self._chunks.top(vector, k * CHUNKS_PER_ARTICLE)
            span.set_attribute("supportbus.chunks", len(hits))
            return best_per_article(hits, k)
        return self._fused(query, vector, k)

    def _vector_ranking(self, vector: list[float]) -> list[ArticleHit]:
        """Every article by cosine, best first, each shown by its best section. With questions,
        an article scores the better of its best section and its best question, but the hit
        (title, snippet) is still that section's: a question is never shown."""
        # Every chunk's cosine (one product over a few hundred rows): every article's best one.
        by_section = best_per_article(
            self._chunks.top(vector, len(self._chunks)), len(self._chunks)
        )
        if self._questions is None:
            return by_section
        unit = np.asarray(vector, dtype=np.float32)
        unit /= max(float(np.linalg.norm(unit)), 1e-12)
        per_intent = self._questions.intent_scores(unit)
        per_article = np.where(self._tagged, per_intent[None, :], -np.inf).max(axis=1)
        best_question = dict(zip(self._article_ids, per_article.tolist(), strict=True))
        hits = [
            replace(h, score=max(h.score, best_question.get(h.article_id, -np.inf)))
            for h in by_section
        ]
        return sorted(hits, key=lambda h: h.score, reverse=True)

    def _fused(self, query: str, vector: list[float], k: int) -> list[ArticleHit]:
        by_vector = self._vector_ranking(vector)
        fusion = self._fusion
        ranked = reciprocal_rank_fusion(
            [
                [h.article_id for h in by_vector[: fusion.depth]],
                [a for a, _ in self._lexical.ranking(query, fusion.depth)],
            ],
            k=fusion.rrf_k,
            weights=[fusion.vector_weight, fusion.lexical_weight],
        )
        best = {h.article_id: h for h in by_vector}
        # Fusion decides the order; each place keeps the cosine the vector search has at that
        # place, so scores stay on the scale the intent lift (RETRIEVER_INTENT_BOOST, a cosine
        # margin) and the published events always had. Raw RRF scores (~0.02 apart) would let
        # the lift promote any tagged article from the whole candidate list.
        return [
            replace(best.get(article_id) or self._first_chunk[article_id], score=h.score)
            for (article_id, _), h in zip(ranked[:k], by_vector, strict=False)
        ]

    def article_vector_scores(
        self, queries: NDArray[np.float32], article_ids: list[str]
    ) -> NDArray[np.float32]:
        """Each article's vector score for many queries at once (benchmarks/retrieval_tuning)."""
        return self._chunks.article_scores(queries, article_ids)

    def close(self) -> None:
        self._thread.close()


def _embed_questions(
    expansion: Expansion, articles: Sequence[KbArticle], embedder: TextEmbedder
) -> QuestionVectors:
    """The vectors of the questions some article is tagged for (the others match nothing)."""
    tagged = {intent for a in articles for intent in a.intents}
    kept = [(t, i) for t, i in zip(expansion.texts, expansion.intents, strict=True) if i in tagged]
    texts = [t for t, _ in kept]
    batches = [embedder.embed(texts[i : i + 256]) for i in range(0, len(texts), 256)]
    vectors = np.concatenate(batches) if batches else np.zeros((0, 1), dtype=np.float32)
    return QuestionVectors.of(vectors.astype(np.float32), [i for _, i in kept])
