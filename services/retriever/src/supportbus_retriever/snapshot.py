"""The local index as the retriever serves it: every chunk vector in one normalised matrix,
with what a hit needs of each chunk, persisted beside LlamaIndex's own store at build time.

Serving from this snapshot means a retriever never imports LlamaIndex (5.5 s of imports on a
quiet machine, 11 s on a loaded one), which is most of what a restarted retriever waited before
it took its partitions back. LlamaIndex still builds the index; the ranking is the same exact
cosine over the same vectors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from supportbus_retriever.ports import ArticleHit

VECTORS_FILE = "supportbus-chunks.npy"
CHUNKS_FILE = "supportbus-chunks.json"


class ChunkSnapshot:
    def __init__(self, vectors: NDArray[np.float32], chunks: list[ArticleHit]) -> None:
        self._vectors = vectors
        self._chunks = chunks  # each with score 0: the search fills it in

    @classmethod
    def of(cls, embeddings: dict[str, list[float]], chunks: dict[str, ArticleHit]) -> ChunkSnapshot:
        """From LlamaIndex's stored vectors and the hit of each chunk, by node id."""
        ids = sorted(embeddings)
        matrix = np.asarray([embeddings[i] for i in ids], dtype=np.float32).reshape(len(ids), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors: NDArray[np.float32] = matrix / np.maximum(norms, 1e-12)
        return cls(vectors, [chunks[i] for i in ids])

    def save(self, directory: Path) -> None:
        np.save(directory / VECTORS_FILE, self._vectors, allow_pickle=False)
        rows = [{k: v for k, v in asdict(c).items() if k != "score"} for c in self._chunks]
        (directory / CHUNKS_FILE).write_text(json.dumps(rows, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> ChunkSnapshot:
        """Raises OSError or ValueError when the files are missing or do not match."""
        vectors = np.load(directory / VECTORS_FILE, allow_pickle=False).astype(np.float32)
        rows: list[dict[str, Any]] = json.loads((directory / CHUNKS_FILE).read_text())
        if vectors.ndim != 2 or len(rows) != vectors.shape[0]:
            raise ValueError(f"{len(rows)} chunks for {vectors.shape[0]} vectors")
        chunks = [
            ArticleHit(**{**row, "intents": tuple(row["intents"]), "score": 0.0}) for row in rows
        ]
        return cls(vectors, chunks)

    def article_scores(
        self, queries: NDArray[np.float32], article_ids: Sequence[str]
    ) -> NDArray[np.float32]:
        """Many queries at once (tuning): each article's best chunk cosine, -inf if it has none."""
        unit = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        chunk_scores = unit.astype(np.float32) @ self._vectors.T
        owners = np.asarray([c.article_id for c in self._chunks])
        out = np.full((len(unit), len(article_ids)), -np.inf, dtype=np.float32)
        for j, article_id in enumerate(article_ids):
            mine = owners == article_id
            if mine.any():
                out[:, j] = chunk_scores[:, mine].max(axis=1)
        return out

    def hits(self) -> list[ArticleHit]:
        """Every chunk's hit (score 0), in snapshot order."""
        return list(self._chunks)

    def __len__(self) -> int:
        return len(self._chunks)

    def top(self, query: Sequence[float], n: int) -> list[ArticleHit]:
        if not self._chunks:
            return []
        vector = np.asarray(query, dtype=np.float32)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        scores = self._vectors @ vector  # cosine: both sides are unit length
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [replace(self._chunks[i], score=float(scores[i])) for i in best]


QUESTION_VECTORS_FILE = "supportbus-questions.npy"
QUESTION_INTENTS_FILE = "supportbus-questions.json"


class QuestionVectors:
    """The expansion questions' vectors (:mod:`supportbus_retriever.expansion`), grouped by
    intent: an article's question score is the best cosine of a question of an intent it is
    tagged with. Only vectors and intents are kept, never a question's text."""

    def __init__(self, vectors: NDArray[np.float32], intents: list[str], starts: list[int]) -> None:
        self._vectors = vectors  # unit rows, sorted by intent
        self.intents = intents  # distinct, sorted
        self._starts = np.asarray(starts, dtype=np.int64)  # first row of each intent
        if len(intents) != len(starts) or (len(vectors) and not len(intents)):
            raise ValueError(f"{len(intents)} intents for {len(starts)} groups of questions")

    @classmethod
    def of(cls, vectors: NDArray[np.float32], intents: Sequence[str]) -> QuestionVectors:
        if len(vectors) != len(intents):
            raise ValueError(f"{len(vectors)} vectors for {len(intents)} questions")
        order = np.argsort(np.asarray(intents, dtype=object), kind="stable")
        matrix = np.asarray(vectors, dtype=np.float32)[order]
        unit: NDArray[np.float32] = matrix / np.maximum(
            np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12
        )
        sorted_intents = [intents[i] for i in order]
        distinct = sorted(set(sorted_intents))
        starts = [sorted_intents.index(intent) for intent in distinct]
        return cls(unit, distinct, starts)

    def __len__(self) -> int:
        return len(self._vectors)

    def intent_scores(self, unit_query: NDArray[np.float32]) -> NDArray[np.float32]:
        """The best question cosine of each intent (``self.intents`` order) for a unit vector."""
        if not len(self._vectors):
            return np.zeros(0, dtype=np.float32)
        scores: NDArray[np.float32] = np.maximum.reduceat(self._vectors @ unit_query, self._starts)
        return scores

    def save(self, directory: Path) -> None:
        np.save(directory / QUESTION_VECTORS_FILE, self._vectors, allow_pickle=False)
        meta = {"intents": self.intents, "starts": [int(s) for s in self._starts]}
        (directory / QUESTION_INTENTS_FILE).write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: Path) -> QuestionVectors:
        """Raises OSError, ValueError or KeyError when the files are missing or do not match."""
        vectors = np.load(directory / QUESTION_VECTORS_FILE, allow_pickle=False)
        meta: dict[str, Any] = json.loads((directory / QUESTION_INTENTS_FILE).read_text())
        starts = [int(s) for s in meta["starts"]]
        if vectors.ndim != 2 or any(s >= len(vectors) for s in starts) or starts != sorted(starts):
            raise ValueError(f"question groups {starts[:5]}... do not fit {len(vectors)} vectors")
        return cls(vectors.astype(np.float32), [str(i) for i in meta["intents"]], starts)
