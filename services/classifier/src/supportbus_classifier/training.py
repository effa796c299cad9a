"""Labelled data (Banking77 CSV format: ``text,category``) and the `supportbus train` logic."""

from __future__ import annotations

import csv
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supportbus_classifier.errors import ClassifierError
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_runtime.embedding import TextEmbedder

log = logging.getLogger(__name__)

BANKING77_TRAIN_URL = (
    "https://raw.githubusercontent.com/PolyAI-LDN/task-specific-datasets/master/"
    "banking_data/train.csv"
)


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def read_labelled_csv(path: Path) -> LabelledTexts:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
                raise ClassifierError(f"{path} must have the columns text,category")
            rows = [(r["text"].strip(), r["category"].strip()) for r in reader if r["text"].strip()]
    except FileNotFoundError as error:
        raise ClassifierError(f"training data not found: {path}") from error
    return LabelledTexts([t for t, _ in rows], [c for _, c in rows])


def stratified_split(
    data: LabelledTexts, test_fraction: float, seed: int = 7
) -> tuple[LabelledTexts, LabelledTexts]:
    """Hold out ``test_fraction`` of every label, so the held-out set covers all intents."""
    by_label: dict[str, list[str]] = {}
    for text, label in zip(data.texts, data.labels, strict=True):
        by_label.setdefault(label, []).append(text)
    rng = random.Random(seed)
    train, test = LabelledTexts([], []), LabelledTexts([], [])
    for label in sorted(by_label):
        texts = by_label[label]
        rng.shuffle(texts)
        cut = max(1, round(len(texts) * test_fraction))
        for bucket, chunk in ((test, texts[:cut]), (train, texts[cut:])):
            bucket.texts.extend(chunk)
            bucket.labels.extend([label] * len(chunk))
    return train, test


def ensure_banking77(path: Path, *, download: Callable[[str, Path], None] | None = None) -> Path:
    """The configured CSV if present; otherwise fetch the public copy (machines with internet)."""
    if path.is_file():
        return path
    fetch = download or _download
    log.info("%s not found; downloading Banking77 from its public source", path)
    try:
        fetch(BANKING77_TRAIN_URL, path)
    except Exception as error:
        raise ClassifierError(
            f"training data not found at {path} and the download failed ({error}); "
            "point --data at a Banking77-format CSV"
        ) from error
    return path


def _download(url: str, path: Path) -> None:
    import httpx

    response = httpx.get(url, timeout=60, follow_redirects=True)
    response.raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)


def train_model(
    data: LabelledTexts, *, embedder: TextEmbedder, taxonomy: Taxonomy
) -> LinearIntentModel:
    unknown = set(data.labels) - taxonomy.intents.keys()
    if unknown:
        raise ClassifierError(f"training labels missing from the taxonomy: {sorted(unknown)[:10]}")
    missing = taxonomy.intents.keys() - set(data.labels)
    if missing:
        raise ClassifierError(f"taxonomy intents with no training example: {sorted(missing)[:10]}")
    return LinearIntentModel.train(data.texts, data.labels, embedder=embedder)


def accuracy_and_macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(truth, predicted)), float(
        f1_score(truth, predicted, average="macro", zero_division=0)
    )
