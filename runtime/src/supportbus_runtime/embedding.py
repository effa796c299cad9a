"""Sentence embeddings with all-MiniLM-L6-v2 (ONNX, via fastembed), shared by the classifier and
the retriever so both see text the same way. The model is loaded from a local folder when one is
configured (offline machines) and downloaded by fastembed otherwise."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.settings import MINILM_MODEL_NAME
from supportbus_runtime.telemetry import child_span, tracer

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

EMBEDDING_DIM = 384


class TextEmbedder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int:
        """The length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class MiniLMEmbedder:
    """fastembed's ONNX runtime for all-MiniLM-L6-v2; loads lazily, on first use."""

    def __init__(
        self, model_path: Path | None, *, threads: int | None = None, batch_size: int = 8
    ) -> None:
        self._model_path = model_path
        self._threads = threads
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return MINILM_MODEL_NAME

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIM

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from fastembed import TextEmbedding
            except ImportError as error:  # pragma: no cover - install problem
                raise ConfigurationError("fastembed is not installed") from error
            source = str(self._model_path) if self._model_path else "the model hub"
            log.info("loading %s from %s", MINILM_MODEL_NAME, source)
            try:
                self._model = TextEmbedding(
                    MINILM_MODEL_NAME,
                    specific_model_path=str(self._model_path) if self._model_path else None,
                    threads=self._threads,
                )
            except Exception as error:
                raise ConfigurationError(
                    f"cannot load the embedding model from {source}: {error}. Put the ONNX model "
                    "folder in place (see ../shared/README.md) or allow the download."
                ) from error
            # ONNX runtime plans its memory on the first run: pay that here, at start, before
            # the consumer joins its group, not on the first record of a new assignment.
            list(self._model.embed(["warm up", "a longer warm-up text of a few words"]))

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        self.load()
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with child_span(_tracer, "embed") as span:
            span.set_attribute("supportbus.embedding_model", MINILM_MODEL_NAME)
            span.set_attribute("supportbus.texts", len(texts))
            # Each model call pads its texts to the longest, and attention grows with length:
            # shortest first, in small calls, keeps the padding small. On mixed Banking77
            # texts (2 cores), 32 texts in one call cost 13 ms a text, sorted calls of 8 about
            # 8.5 ms, one text alone 12.5 ms (benchmarks/classify_latency.py).
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            vectors = self._model.embed([texts[i] for i in order], batch_size=self._batch_size)
            matrix = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
            matrix[order] = np.asarray(list(vectors), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        normalised: NDArray[np.float32] = matrix / np.maximum(norms, 1e-12)
        return normalised
