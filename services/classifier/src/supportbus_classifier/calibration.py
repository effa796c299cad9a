"""Confidence that means what it says: temperature scaling and how far from calibrated it is.

A linear SVM's scores rank intents well but are not probabilities. A softmax over them at one
temperature, fitted to out-of-fold scores of the training data (never the test file), turns them
into a confidence whose value is the share of such predictions that are right - what the hybrid
classifier's LLM threshold and the handoff threshold are stated in. Temperature scaling keeps the
ranking, so accuracy is unchanged (Guo et al. 2017, "On Calibration of Modern Neural Networks").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

_TEMPERATURE_BOUNDS = (1e-3, 100.0)


def softmax(scores: NDArray[np.floating], temperature: float) -> NDArray[np.float64]:
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def fit_temperature(scores: NDArray[np.floating], truth: NDArray[np.intp]) -> float:
    """The temperature minimising the negative log-likelihood of the true classes."""
    from scipy.optimize import minimize_scalar  # training only: the service never imports SciPy

    def nll(log_t: float) -> float:
        probabilities = softmax(scores, float(np.exp(log_t)))
        picked = probabilities[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(picked, 1e-12, None)).mean())

    low, high = (np.log(b) for b in _TEMPERATURE_BOUNDS)
    result = minimize_scalar(nll, bounds=(low, high), method="bounded")
    return float(np.exp(result.x))


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    confidence: float  # mean confidence of the predictions in the bin
    accuracy: float  # share of them that were right


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 15
) -> list[ReliabilityBin]:
    """Predictions grouped by confidence into equal-width bins (empty bins left out)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first.
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    result = []
    for i in range(bins):
        members = index == i
        if members.any():
            result.append(
                ReliabilityBin(
                    float(edges[i]),
                    float(edges[i + 1]),
                    int(members.sum()),
                    float(conf[members].mean()),
                    float(hit[members].mean()),
                )
            )
    return result


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 15
) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over the bins."""
    total = len(confidences)
    if total == 0:
        return 0.0
    return sum(
        b.count / total * abs(b.accuracy - b.confidence)
        for b in reliability(confidences, correct, bins)
    )
