"""Benchmark: which features the embedded intent model uses, chosen by 5-fold cross-validation
on the Banking77 TRAINING texts (the test file is never read here).

Each row is the mean held-out accuracy over the same five folds; the shipped model
(supportbus_classifier.linear_model) is the last row. The TF-IDF settings are those of
supportbus_classifier.lexical_features.

    uv run --frozen python benchmarks/classifier_features.py [--train var/eval/train.csv]

Last run: see the module docstring of supportbus_classifier.linear_model.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from supportbus_classifier.lexical_features import LexicalFeatures
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.svm_fit import EMBEDDING_WEIGHT, SVM_C
from supportbus_classifier.training import read_labelled_csv
from supportbus_runtime.embedding import MiniLMEmbedder

Fit = Callable[
    [list[str], NDArray[np.float32], NDArray[np.str_], list[str], NDArray[np.float32]],
    NDArray[np.str_],
]


def embedding_logreg(
    tr: list[str],
    e_tr: NDArray[np.float32],
    y: NDArray[np.str_],
    te: list[str],
    e_te: NDArray[np.float32],
) -> NDArray[np.str_]:
    return np.asarray(
        LogisticRegression(C=10, max_iter=3000).fit(e_tr, y).predict(e_te)
    )  # the model before


def tfidf_svm(
    tr: list[str],
    e_tr: NDArray[np.float32],
    y: NDArray[np.str_],
    te: list[str],
    e_te: NDArray[np.float32],
) -> NDArray[np.str_]:
    lexical = LexicalFeatures.fit(tr)
    return np.asarray(
        LinearSVC(C=SVM_C).fit(lexical.transform(tr), y).predict(lexical.transform(te))
    )


def combined(weight: float) -> Fit:
    def fit(
        tr: list[str],
        e_tr: NDArray[np.float32],
        y: NDArray[np.str_],
        te: list[str],
        e_te: NDArray[np.float32],
    ) -> NDArray[np.str_]:
        lexical = LexicalFeatures.fit(tr)
        a = hstack([csr_matrix(e_tr * weight), lexical.transform(tr)]).tocsr()
        b = hstack([csr_matrix(e_te * weight), lexical.transform(te)]).tocsr()
        return np.asarray(LinearSVC(C=SVM_C, max_iter=5000, random_state=0).fit(a, y).predict(b))

    return fit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("var/eval/train.csv"))
    args = parser.parse_args()
    settings = ClassifierSettings()
    embedder = MiniLMEmbedder(settings.resolved_model_path(settings.shared_dir))
    data = read_labelled_csv(args.train)
    texts, labels = data.texts, np.array(data.labels)
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    print(
        f"embedded {len(texts)} training texts in {time.perf_counter() - started:.0f} s", flush=True
    )
    rows: list[tuple[str, Fit]] = [
        ("MiniLM embedding, logistic regression C 10", embedding_logreg),
        ("TF-IDF word 1-2 + char_wb 2-5, linear SVM", tfidf_svm),
        ("both, embedding weight 1", combined(1.0)),
        ("both, embedding weight 3", combined(3.0)),
        (f"both, embedding weight {EMBEDDING_WEIGHT:g} (shipped)", combined(EMBEDDING_WEIGHT)),
    ]
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, labels))
    for name, fit in rows:
        started = time.perf_counter()
        scores = []
        for fit_rows, held_rows in folds:
            predicted = fit(
                [texts[i] for i in fit_rows],
                vectors[fit_rows],
                labels[fit_rows],
                [texts[i] for i in held_rows],
                vectors[held_rows],
            )
            scores.append(float((predicted == labels[held_rows]).mean()))
        print(
            f"{name:<52} CV accuracy {np.mean(scores):.4f} (folds {min(scores):.4f}-"
            f"{max(scores):.4f}), {time.perf_counter() - started:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
