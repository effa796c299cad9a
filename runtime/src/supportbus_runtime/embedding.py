"""Sentence embeddings with all-MiniLM-L6-v2, shared by the classifier and the retriever so both
see text the same way: the ONNX model run by onnxruntime on the model folder's own tokenizer,
mean-pooled and L2-normalised (fastembed's recipe for this model; the vectors are equal). The
model is loaded from a local folder when one is configured (offline machines) and downloaded
by fastembed otherwise.

fastembed itself is only the downloader: importing it costs a service 51 MiB of RSS and 0.6 s
(huggingface_hub, httpx, rich, Pillow for its image models), for what is here two calls.

Loading the model also holds numpy's BLAS to one thread for the process. The products beside
the model (the classifier's linear layer and nearest examples, vector scores) are small, and
BLAS's own pool of spinning threads fights onnxruntime's for the same cores: one classification
cost 10.0 ms with both pools and 4.0 ms with BLAS on one thread (`supportbus eval classify`).
"""

from __future__ import annotations

import json
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
    """all-MiniLM-L6-v2 on onnxruntime; loads lazily, on first use."""

    def __init__(
        self, model_path: Path | None, *, threads: int | None = None, batch_size: int = 8
    ) -> None:
        self._model_path = model_path
        self._threads = threads
        self._batch_size = batch_size
        self._model: _OnnxSentenceModel | None = None
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
            source = str(self._model_path) if self._model_path else "the model hub"
            log.info("loading %s from %s", MINILM_MODEL_NAME, source)
            try:
                folder = self._model_path or _download()
                model = _OnnxSentenceModel(folder, threads=self._threads)
            except ConfigurationError:
                raise
            except Exception as error:
                raise ConfigurationError(
                    f"cannot load the embedding model from {source}: {error}. Put the ONNX model "
                    "folder in place (see ../shared/README.md) or allow the download."
                ) from error
            _one_blas_thread()
            # ONNX runtime plans its memory on the first run: pay that here, at start, before
            # the consumer joins its group, not on the first record of a new assignment.
            model.embed(["warm up", "a longer warm-up text of a few words"])
            self._model = model

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        import numpy as np

        self.load()
        assert self._model is not None
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
            matrix = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
            for start in range(0, len(order), self._batch_size):
                rows = order[start : start + self._batch_size]
                matrix[rows] = self._model.embed([texts[i] for i in rows])
        return matrix


def _one_blas_thread() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # stays in force: not used as a context


class _OnnxSentenceModel:
    """A sentence-transformers ONNX export: its tokenizer.json, padded to the longest text of a
    call and truncated at the tokenizer config's limit, then mean pooling over the real tokens
    and L2 normalisation, as fastembed does for this model."""

    def __init__(self, folder: Path, *, threads: int | None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not (folder / "model.onnx").is_file():
            raise ConfigurationError(f"{folder} has no model.onnx")
        config = json.loads((folder / "tokenizer_config.json").read_text())
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=_max_tokens(config))
        pad_token = (tokenizer.padding or {}).get("pad_token") or config.get("pad_token", "[PAD]")
        pad_id = tokenizer.token_to_id(pad_token)
        if pad_id is None:
            raise ConfigurationError(f"the tokenizer in {folder} has no pad token {pad_token!r}")
        tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = threads
        self._session = ort.InferenceSession(
            str(folder / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {node.name for node in self._session.get_inputs()}

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        import numpy as np

        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed: dict[str, Any] = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        tokens = self._session.run(None, feed)[0]
        # Summed in float64 and normalised before the cast back, as fastembed does.
        summed = np.sum(tokens, axis=1, where=mask[:, :, np.newaxis].astype(bool), dtype=np.float64)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        vectors: NDArray[np.float32] = (pooled / norms).astype(np.float32)
        return vectors


def _max_tokens(tokenizer_config: dict[str, Any]) -> int:
    """The stricter of the config's limits; transformers writes 1e30 when it knows none."""
    limits = [
        value
        for key in ("model_max_length", "max_length")
        if isinstance(value := tokenizer_config.get(key), int) and 0 < value <= 100_000
    ]
    return min(limits) if limits else 512


def _download() -> Path:
    """fastembed's copy of the model (it downloads once into its cache), without loading it."""
    try:
        from fastembed import TextEmbedding
    except ImportError as error:  # pragma: no cover - install problem
        raise ConfigurationError(
            "no local model folder and fastembed (the downloader) is not installed"
        ) from error
    model = TextEmbedding(MINILM_MODEL_NAME, lazy_load=True)
    # Where it downloaded to: fastembed has no public name for it, so fail clearly if it moves.
    folder = getattr(model.model, "_model_dir", None)
    if folder is None:
        raise ConfigurationError(
            "this fastembed does not say where it downloaded the model: set "
            "*_EMBEDDING_MODEL_PATH to a local folder"
        )
    return Path(folder)
