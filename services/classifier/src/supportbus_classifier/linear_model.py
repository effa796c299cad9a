"""The embedded default intent model: MiniLM sentence embeddings and TF-IDF word and character
n-grams side by side, a linear SVM over both, each intent's nearest training texts added to its
score, and a softmax at a fitted temperature.

Why these pieces: ``benchmarks/classifier_features.py``, 5-fold cross-validation on the 8,005
training texts of the held-out split (the test file only scored the result, README "Measured"):

    MiniLM embedding, logistic regression C 10 (the model before)   CV accuracy 0.9151
    TF-IDF word 1-2 + char_wb 2-5, linear SVM                       CV accuracy 0.8937
    both, embedding weight 1 / 3                                    CV accuracy 0.9212 / 0.9228
    both, embedding weight 2, linear SVM C 0.5                      CV accuracy 0.9242
    + per intent, 7 x the mean cosine of its 2 nearest texts        CV accuracy 0.9299 (shipped)

In exploration other n-gram ranges, C, an MLP, an RBF kernel (exact or Nystroem), k-NN votes,
max pooling, the knowledge base's questions as extra examples and nearest texts in TF-IDF space
(best CV 0.9319) all moved accuracy by no more than 0.2 points. The nearest texts over the mean
of MiniLM's layers 2-5 reached CV 0.9324, but need extra outputs grafted onto the ONNX graph of
one particular export (issue 12).

Training uses scikit-learn; the saved file holds only arrays and JSON metadata (``.npz``, no
pickle). Prediction is the embedding, one dense product for the embedding's columns, a gather of
each text's few TF-IDF columns and one product with the training texts' embeddings, about a
millisecond beyond the embedding.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from supportbus_classifier import nearest_examples
from supportbus_classifier.calibration import fit_temperature, softmax
from supportbus_classifier.errors import ClassifierError, ModelUnavailable
from supportbus_classifier.lexical_features import (
    EMBEDDING_WEIGHT,
    LEXICAL_FEATURES,
    LexicalFeatures,
)
from supportbus_classifier.nearest_examples import NearestExamples
from supportbus_classifier.ports import IntentPrediction
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import child_span, tracer

_tracer = tracer(__name__)

# 2: embedding + TF-IDF features, linear SVM, calibrated temperature; 3: + nearest examples
FORMAT_VERSION = 3
FEATURE_SET = f"minilm*{EMBEDDING_WEIGHT:g}+{LEXICAL_FEATURES}+{nearest_examples.FEATURES}"
CALIBRATION_FOLDS = 5
RETRAIN_HINT = "run `supportbus train` to (re)create it"


@dataclass(frozen=True)
class ModelMetadata:
    """What the model was trained on and with: checked at load, shown by `eval classify`."""

    format_version: int
    embedding_model: str
    feature_set: str
    trained_at: str
    examples: int
    training_data_sha256: str
    temperature: float
    calibration_folds: int
    versions: dict[str, str] = field(default_factory=dict)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = ("supportbus-classifier", "scikit-learn", "numpy", "scipy", "onnxruntime", "tokenizers")
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:  # the embedding extra is optional: tests use other embedders
            continue
    return found


def training_data_digest(texts: Sequence[str], labels: Sequence[str]) -> str:
    rows = "\n".join(f"{t}\t{y}" for t, y in zip(texts, labels, strict=True))
    return hashlib.sha256(rows.encode()).hexdigest()


class LinearIntentModel:
    def __init__(
        self,
        *,
        weights: NDArray[np.float32],
        bias: NDArray[np.float32],
        labels: Sequence[str],
        lexical: LexicalFeatures,
        nearest: NearestExamples,
        embedder: TextEmbedder,
        metadata: ModelMetadata,
    ) -> None:
        self._weights = weights
        self._bias = bias
        self._labels = list(labels)
        self._lexical = lexical
        self._nearest = nearest
        self._embedder = embedder
        self.metadata = metadata

    @property
    def name(self) -> str:
        return f"minilm-tfidf-svm@{self.metadata.trained_at[:19]}"

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
            return self.predict_embedded(texts, vectors)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return self._embedder.embed(texts)

    def predict_embedded(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> list[IntentPrediction]:
        """The intents of texts whose embeddings are already computed (one row each)."""
        probabilities = self.predict_proba(texts, vectors)
        best = probabilities.argmax(axis=1)
        return [
            IntentPrediction(self._labels[i], float(probabilities[row, i]))
            for row, i in enumerate(best)
        ]

    def predict_proba(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """Calibrated probabilities, one row per text, columns in ``labels`` order."""
        return softmax(self.scores(texts, vectors), self.metadata.temperature)

    def scores(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> NDArray[np.float64]:
        """[EMBEDDING_WEIGHT * embedding, TF-IDF] times the weights, plus the nearest examples'
        scores. No sparse matrix: the embedding's columns as one product, each text's few
        non-zero TF-IDF columns gathered from the rest."""
        dimension = vectors.shape[1]
        dense = np.asarray(vectors, dtype=np.float32) * EMBEDDING_WEIGHT
        scores = np.asarray(dense @ self._weights[:, :dimension].T, dtype=np.float64)
        rows, columns, values = self._lexical.coordinates(texts)
        np.add.at(scores, rows, self._weights[:, dimension + columns].T * values[:, np.newaxis])
        return scores + self._bias + nearest_examples.WEIGHT * self._nearest.scores(vectors)

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        embedder: TextEmbedder,
        vectors: NDArray[np.float32] | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> LinearIntentModel:
        """Fit on labelled texts; pass ``vectors`` when the texts are already embedded.

        The temperature is fitted to out-of-fold scores (each fold scored by a model that never
        saw it), then the final model is fitted on everything.
        """
        if len(texts) != len(labels) or not texts:
            raise ClassifierError("training needs at least one text, and one label per text")
        if len(set(labels)) < 2:
            raise ClassifierError("training needs at least two intents")
        from supportbus_classifier.svm_fit import fit_svm, out_of_fold_scores

        report = on_step or (lambda _: None)
        embedded = embedder.embed(texts) if vectors is None else vectors
        classes = sorted(set(labels))
        truth = np.searchsorted(classes, np.asarray(labels))
        folds = min(CALIBRATION_FOLDS, int(np.bincount(truth).min()))
        temperature = 1.0
        if folds >= 2:
            temperature = fit_temperature(
                out_of_fold_scores(list(texts), embedded, truth, folds, report), truth
            )
        report("fitting the final model on all examples")
        lexical, weights, bias = fit_svm(list(texts), embedded, truth, len(classes))
        nearest = NearestExamples(embedded, truth, len(classes))
        metadata = ModelMetadata(
            format_version=FORMAT_VERSION,
            embedding_model=embedder.name,
            feature_set=FEATURE_SET,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            examples=len(texts),
            training_data_sha256=training_data_digest(texts, labels),
            temperature=round(temperature, 6),
            calibration_folds=folds if folds >= 2 else 0,
            versions=_versions(),
        )
        return cls(
            weights=weights,
            bias=bias,
            labels=classes,
            lexical=lexical,
            nearest=nearest,
            embedder=embedder,
            metadata=metadata,
        )

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        arrays: dict[str, Any] = {
            "weights": self._weights,
            "bias": self._bias,
            "labels": np.array(self._labels, dtype=str),
            "metadata": np.array(json.dumps(asdict(self.metadata))),
            **self._lexical.to_arrays(),
            **self._nearest.to_arrays(),
        }
        with partial.open("wb") as handle:
            np.savez_compressed(handle, **arrays)
        partial.replace(path)  # atomic: a crash mid-save never leaves a torn model behind

    @classmethod
    def load(cls, path: Path, *, embedder: TextEmbedder, taxonomy: Taxonomy) -> LinearIntentModel:
        if not path.is_file():
            raise ModelUnavailable(f"intent model not found at {path}: {RETRAIN_HINT}")
        try:
            with np.load(path, allow_pickle=False) as data:
                raw: dict[str, Any] = json.loads(str(data["metadata"]))
                _refuse_other_features(path, raw)
                labels = [str(x) for x in data["labels"]]
                model = cls(
                    weights=data["weights"],
                    bias=data["bias"],
                    labels=labels,
                    lexical=LexicalFeatures.from_arrays(data),
                    nearest=NearestExamples.from_arrays(data, len(labels)),
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


def _refuse_other_features(path: Path, raw: dict[str, Any]) -> None:
    """A model computed from other features would be silently wrong, not just worse."""
    problems = []
    if raw.get("format_version") != FORMAT_VERSION:
        problems.append(f"file format {raw.get('format_version')} != {FORMAT_VERSION}")
    if raw.get("feature_set") != FEATURE_SET:
        problems.append(
            f"trained with the features {raw.get('feature_set')!r}, "
            f"this classifier computes {FEATURE_SET!r}"
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
