"""Benchmark: which features the embedded intent model uses, chosen by 5-fold cross-validation
on the Banking77 TRAINING texts (the test file is never read here).

Each row is the mean held-out accuracy over the same five folds; the shipped model
(supportbus_classifier.linear_model) is the "(shipped)" row. (The folds here score the kNN rows
with float16 examples, as the service does.) The TF-IDF settings are those of
supportbus_classifier.lexical_features.

    uv run --frozen python benchmarks/classifier_features.py [--train var/eval/train.csv] [--layers]

The "+ kNN" rows add to the SVM's scores ``weight`` times, per intent, the mean cosine
similarity of the k training texts of that intent nearest to the request (weights and k chosen
on these folds). ``--layers`` also runs the kNN over the mean of MiniLM's layers 2-5, read from
the same forward pass by adding the intermediate outputs to the ONNX graph (needs the ``onnx``
package, not a dependency of the project).

Last run: see the module docstring of supportbus_classifier.linear_model.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from supportbus_classifier import nearest_examples
from supportbus_classifier.lexical_features import LexicalFeatures
from supportbus_classifier.nearest_examples import NearestExamples
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.svm_fit import EMBEDDING_WEIGHT, SVM_C
from supportbus_classifier.training import read_labelled_csv
from supportbus_runtime.embedding import MiniLMEmbedder

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: fit on ``tr``, predict ``te``; labels as integers."""

    tr: list[str]
    e_tr: Matrix
    y: NDArray[np.intp]
    te: list[str]
    e_te: Matrix
    layers_tr: Matrix | None
    layers_te: Matrix | None


Fit = Callable[[Fold], NDArray[np.intp]]


def embedding_logreg(fold: Fold) -> NDArray[np.intp]:
    model = LogisticRegression(C=10, max_iter=3000)  # the model before
    return np.asarray(model.fit(fold.e_tr, fold.y).predict(fold.e_te))


def tfidf_svm(fold: Fold) -> NDArray[np.intp]:
    lexical = LexicalFeatures.fit(fold.tr)
    svm = LinearSVC(C=SVM_C).fit(lexical.transform(fold.tr), fold.y)
    return np.asarray(svm.predict(lexical.transform(fold.te)))


def _svm_scores(fold: Fold, weight: float) -> NDArray[np.float64]:
    lexical = LexicalFeatures.fit(fold.tr)
    a = hstack([csr_matrix(fold.e_tr * weight), lexical.transform(fold.tr)]).tocsr()
    b = hstack([csr_matrix(fold.e_te * weight), lexical.transform(fold.te)]).tocsr()
    svm = LinearSVC(C=SVM_C, max_iter=5000, random_state=0).fit(a, fold.y)
    return np.asarray(svm.decision_function(b), dtype=np.float64)


def combined(weight: float) -> Fit:
    def fit(fold: Fold) -> NDArray[np.intp]:
        return np.asarray(_svm_scores(fold, weight).argmax(axis=1))

    return fit


def combined_knn(k: int, knn_weight: float, *, layers: bool = False) -> Fit:
    def fit(fold: Fold) -> NDArray[np.intp]:
        space_tr, space_te = (fold.layers_tr, fold.layers_te) if layers else (fold.e_tr, fold.e_te)
        assert space_tr is not None
        assert space_te is not None
        n_classes = int(fold.y.max()) + 1
        knn = NearestExamples(space_tr, fold.y, n_classes, neighbours=k).scores(space_te)
        return np.asarray((_svm_scores(fold, EMBEDDING_WEIGHT) + knn_weight * knn).argmax(axis=1))

    return fit


def layer_means(model_dir: Path, texts: Sequence[str], layers: Sequence[int]) -> Matrix:
    """Per text: the mean over ``layers`` of each layer's L2-normalised mean-pooled states."""
    import onnx
    import onnxruntime as ort
    from tokenizers import Tokenizer

    graph = onnx.load(str(model_dir / "model.onnx"))
    names = [
        "last_hidden_state"
        if i == 5
        else f"/m/encoder/layer.{i}/output/LayerNorm/LayerNormalization_output_0"
        for i in layers
    ]
    for name in names:
        if name != "last_hidden_state":
            graph.graph.output.append(
                onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(graph.SerializeToString(), options)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(256)
    result = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        feed["token_type_ids"] = np.zeros_like(ids)
        for state in session.run(names, feed):
            pooled = state[0].mean(axis=0)
            result[row] += pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    norms = np.linalg.norm(result, axis=1, keepdims=True)
    return np.asarray(result / np.maximum(norms, 1e-12), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("var/eval/train.csv"))
    parser.add_argument("--layers", action="store_true", help="also the multi-layer kNN row")
    args = parser.parse_args()
    settings = ClassifierSettings()
    model_dir = settings.resolved_model_path(settings.shared_dir)
    embedder = MiniLMEmbedder(model_dir)
    data = read_labelled_csv(args.train)
    texts = data.texts
    labels = np.searchsorted(sorted(set(data.labels)), np.array(data.labels))
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    layers = None
    if args.layers:
        assert model_dir is not None
        layers = layer_means(model_dir, texts, (2, 3, 4, 5))
    print(
        f"embedded {len(texts)} training texts in {time.perf_counter() - started:.0f} s", flush=True
    )
    rows: list[tuple[str, Fit]] = [
        ("MiniLM embedding, logistic regression C 10", embedding_logreg),
        ("TF-IDF word 1-2 + char_wb 2-5, linear SVM", tfidf_svm),
        ("both, embedding weight 1", combined(1.0)),
        ("both, embedding weight 3", combined(3.0)),
        (f"both, embedding weight {EMBEDDING_WEIGHT:g}", combined(EMBEDDING_WEIGHT)),
        (
            f"both + kNN ({nearest_examples.NEIGHBOURS} nearest per intent), "
            f"weight {nearest_examples.WEIGHT:g} (shipped)",
            combined_knn(nearest_examples.NEIGHBOURS, nearest_examples.WEIGHT),
        ),
    ]
    if layers is not None:
        rows.append(
            (
                "both + kNN over layers 2-5 (3 nearest), weight 10",
                combined_knn(3, 10.0, layers=True),
            )
        )
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, labels))
    for name, fit in rows:
        started = time.perf_counter()
        scores = []
        for fit_rows, held_rows in folds:
            fold = Fold(
                [texts[i] for i in fit_rows],
                vectors[fit_rows],
                labels[fit_rows],
                [texts[i] for i in held_rows],
                vectors[held_rows],
                None if layers is None else layers[fit_rows],
                None if layers is None else layers[held_rows],
            )
            scores.append(float((fit(fold) == labels[held_rows]).mean()))
        print(
            f"{name:<52} CV accuracy {np.mean(scores):.4f} (folds {min(scores):.4f}-"
            f"{max(scores):.4f}), {time.perf_counter() - started:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
