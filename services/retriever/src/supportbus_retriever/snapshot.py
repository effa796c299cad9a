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
