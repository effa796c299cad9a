"""The embedded default intent model: MiniLM sentence embeddings + a linear (logistic) layer.

Training uses scikit-learn; the saved file holds only arrays and JSON metadata (``.npz``, no
pickle), and prediction is one matrix product and a softmax in numpy, a few milliseconds a text.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from supportbus_classifier.errors import ModelUnavailable
from supportbus_classifier.ports import IntentPrediction
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import child_span, tracer

_tracer = tracer(__name__)

FORMAT_VERSION = 1
RETRAIN_HINT = "run `supportbus train` to (re)create it"


@dataclass(frozen=True)
class ModelMetadata:
    format_version: int
    embedding_model: str
    trained_at: str
    examples: int
    training_data_sha256: str


class LinearIntentModel:
    def __init__(
        self,
        *,
        weights: NDArray[np.float32],
        bias: NDArray[np.float32],
        labels: Sequence[str],
        embedder: TextEmbedder,
        metadata: ModelMetadata,
    ) -> None:
        self._weights = weights
        self._bias = bias
        self._labels = list(labels)
        self._embedder = embedder
        self.metadata = metadata

    @property
    def name(self) -> str:
        return f"minilm-logreg@{self.metadata.trained_at[:19]}"

    @property
    def labels(self) -> Sequence[str]:
        return self._labels

    @property
    def embedding_model(self) -> str:
        return self._embedder.name

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        vectors = self.embed(texts)
        with child_span(_tracer, "model_inference") as span:
            span.set_attribute("supportbus.model", self.name)
            return self.predict_vectors(vectors)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._embedder.embed(texts)

    def predict_vectors(self, vectors: NDArray[np.float32]) -> list[IntentPrediction]:
        """The intents of already embedded texts (one row each): one matrix product."""
        probabilities = self.predict_proba(vectors)
        best = probabilities.argmax(axis=1)
        return [
            IntentPrediction(self._labels[i], float(probabilities[row, i]))
            for row, i in enumerate(best)
        ]

    def predict_proba(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        logits = vectors @ self._weights.T + self._bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        embedder: TextEmbedder,
        vectors: NDArray[np.float32] | None = None,
        regularisation: float = 10.0,
    ) -> LinearIntentModel:
        """Fit on labelled texts; pass ``vectors`` when the texts are already embedded."""
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        features = embedder.embed(texts) if vectors is None else vectors
        classifier = LogisticRegression(C=regularisation, max_iter=2000)
        classifier.fit(features, list(labels))
        digest = hashlib.sha256(
            "\n".join(f"{t}\t{y}" for t, y in zip(texts, labels, strict=True)).encode()
        ).hexdigest()
        metadata = ModelMetadata(
            format_version=FORMAT_VERSION,
            embedding_model=embedder.name,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            examples=len(texts),
            training_data_sha256=digest,
        )
        return cls(
            weights=classifier.coef_.astype(np.float32),
            bias=classifier.intercept_.astype(np.float32),
            labels=[str(c) for c in classifier.classes_],
            embedder=embedder,
            metadata=metadata,
        )

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            np.savez(
                handle,
                weights=self._weights,
                bias=self._bias,
                labels=np.array(self._labels, dtype=str),
                metadata=np.array(json.dumps(self.metadata.__dict__)),
            )
        partial.replace(path)  # atomic: a crash mid-save never leaves a torn model behind

    @classmethod
    def load(cls, path: Path, *, embedder: TextEmbedder, taxonomy: Taxonomy) -> LinearIntentModel:
        if not path.is_file():
            raise ModelUnavailable(f"intent model not found at {path}: {RETRAIN_HINT}")
        try:
            with np.load(path, allow_pickle=False) as data:
                raw: dict[str, Any] = json.loads(str(data["metadata"]))
                model = cls(
                    weights=data["weights"],
                    bias=data["bias"],
                    labels=[str(x) for x in data["labels"]],
                    embedder=embedder,
                    metadata=ModelMetadata(**raw),
                )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelUnavailable(
                f"intent model {path} is unreadable ({error}): {RETRAIN_HINT}"
            ) from error
        model._check_fresh(path, embedder, taxonomy)
        return model

    def _check_fresh(self, path: Path, embedder: TextEmbedder, taxonomy: Taxonomy) -> None:
        problems = []
        if self.metadata.format_version != FORMAT_VERSION:
            problems.append(f"file format {self.metadata.format_version} != {FORMAT_VERSION}")
        if self.metadata.embedding_model != embedder.name:
            problems.append(
                f"trained on {self.metadata.embedding_model} embeddings, "
                f"service uses {embedder.name}"
            )
        labels, intents = set(self._labels), set(taxonomy.intents)
        if labels != intents:
            problems.append(
                f"its intents differ from the taxonomy's "
                f"(missing {sorted(intents - labels)[:5]}, unknown {sorted(labels - intents)[:5]})"
            )
        if problems:
            raise ModelUnavailable(
                f"intent model {path} is stale: {'; '.join(problems)}; {RETRAIN_HINT}"
            )


def timed_predict(
    model: LinearIntentModel, texts: Sequence[str]
) -> tuple[list[IntentPrediction], float]:
    """Predictions one text at a time, as the service makes them, and mean ms per request."""
    start = time.perf_counter()
    predictions = [model.predict([text])[0] for text in texts]
    return predictions, (time.perf_counter() - start) * 1000 / max(len(texts), 1)
