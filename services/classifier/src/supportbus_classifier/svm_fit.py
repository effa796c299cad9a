"""Fitting the intent model's linear SVM on all examples, and the whole model's scores fold by
fold for calibration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, hstack

from supportbus_classifier import nearest_examples
from supportbus_classifier.lexical_features import EMBEDDING_WEIGHT, LexicalFeatures
from supportbus_classifier.nearest_examples import NearestExamples

__all__ = ["EMBEDDING_WEIGHT", "SVM_C", "features", "fit_svm", "out_of_fold_scores"]

SVM_C = 0.5


def features(vectors: NDArray[np.float32], lexical: csr_matrix) -> csr_matrix:
    dense = csr_matrix(np.asarray(vectors, dtype=np.float32) * EMBEDDING_WEIGHT)
    return hstack([dense, lexical]).tocsr()


def fit_svm(
    texts: list[str], vectors: NDArray[np.float32], truth: NDArray[np.intp], n_classes: int
) -> tuple[LexicalFeatures, NDArray[np.float32], NDArray[np.float32]]:
    from sklearn.svm import LinearSVC

    lexical = LexicalFeatures.fit(texts)
    svm = LinearSVC(C=SVM_C, max_iter=5000, random_state=0)
    svm.fit(features(vectors, lexical.transform(texts)), truth)
    weights, bias = svm.coef_, svm.intercept_
    if n_classes == 2:  # one score s for class 1: as two columns, softmax sees s as their gap
        weights, bias = np.vstack([-weights / 2, weights / 2]), np.hstack([-bias / 2, bias / 2])
    return lexical, weights.astype(np.float32), bias.astype(np.float32)


def out_of_fold_scores(
    texts: list[str],
    vectors: NDArray[np.float32],
    truth: NDArray[np.intp],
    folds: int,
    report: Callable[[str], None],
) -> NDArray[np.float64]:
    """Each text scored as the service would score it (SVM and nearest examples) by a model
    fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    n_classes = int(truth.max()) + 1
    scores = np.zeros((len(texts), n_classes))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    for number, (fit_rows, held_rows) in enumerate(splitter.split(vectors, truth), 1):
        report(f"calibration fold {number}/{folds}")
        lexical, weights, bias = fit_svm(
            [texts[i] for i in fit_rows], vectors[fit_rows], truth[fit_rows], n_classes
        )
        held = features(vectors[held_rows], lexical.transform([texts[i] for i in held_rows]))
        nearest = NearestExamples(vectors[fit_rows], truth[fit_rows], n_classes)
        scores[held_rows] = (
            np.asarray(held @ weights.T)
            + bias
            + nearest_examples.WEIGHT * nearest.scores(vectors[held_rows])
        )
    return scores
