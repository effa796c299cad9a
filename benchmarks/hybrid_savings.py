"""Benchmark: how many LLM calls the classifier's hybrid mode saves. Trains the local model on
the training split, classifies the held-out split, and counts per threshold how many decisions
fall below it (those go to the LLM) and how many of the local model's errors they include.

    uv run python benchmarks/hybrid_savings.py [--train var/eval/train.csv --test var/eval/test.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.training import read_labelled_csv
from supportbus_runtime.embedding import MiniLMEmbedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("var/eval/train.csv"))
    parser.add_argument("--test", type=Path, default=Path("var/eval/test.csv"))
    args = parser.parse_args()
    settings = ClassifierSettings()
    embedder = MiniLMEmbedder(
        settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
    )
    train, test = read_labelled_csv(args.train), read_labelled_csv(args.test)
    model = LinearIntentModel.train(train.texts, train.labels, embedder=embedder)
    probabilities = model.predict_proba(embedder.embed(test.texts))
    confidence = probabilities.max(axis=1)
    predicted = [model.labels[i] for i in probabilities.argmax(axis=1)]
    correct = np.array([p == y for p, y in zip(predicted, test.labels, strict=True)])
    print(f"held-out {len(test.texts)}, local accuracy {correct.mean():.3f}")
    print(f"(default threshold {settings.hybrid_threshold})")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        below = confidence < threshold
        print(
            f"threshold {threshold}: LLM calls {below.sum()} ({below.mean():.1%}), "
            f"saved {(~below).sum()} ({(~below).mean():.1%}); local errors sent to the LLM "
            f"{(~correct & below).sum()}/{(~correct).sum()}"
        )


if __name__ == "__main__":
    main()
