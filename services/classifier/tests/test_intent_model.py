"""The embedded intent model's features, calibration and model file checks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from supportbus_classifier.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability,
    softmax,
)
from supportbus_classifier.errors import ModelUnavailable
from supportbus_classifier.linear_model import FEATURE_SET, FORMAT_VERSION, LinearIntentModel
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_devtools.testing import HashingEmbedder

TAXONOMY = """
version: 1
categories:
  cards: Cards
  top_ups: Top-ups
intents:
  top_up_by_card_charge: {category: top_ups, priority: low, description: Card top-up fee.}
  top_up_by_bank_transfer_charge: {category: top_ups, priority: low, description: Transfer fee.}
  card_arrival: {category: cards, priority: normal, description: Waiting for a card.}
"""


class ConstantEmbedder:
    """Every text gets the same vector: whatever the model tells apart, it tells from words."""

    name = "constant-8"
    dimension = 8

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.full((len(texts), self.dimension), 8**-0.5, dtype=np.float32)


def _taxonomy(tmp_path: Path) -> Taxonomy:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY)
    return Taxonomy.load(path)


def _examples() -> tuple[list[str], list[str]]:
    rows = {
        "top_up_by_card_charge": [
            "fee for topping up with my card",
            "was I charged for a card top up",
            "card top-up cost me extra",
            "why a charge on my card top up",
            "topped up by card and paid a fee",
        ],
        "top_up_by_bank_transfer_charge": [
            "fee for topping up with a bank transfer",
            "was I charged for a transfer top up",
            "transfer top-up cost me extra",
            "why a charge on my transfer top up",
            "topped up by transfer and paid a fee",
        ],
        "card_arrival": [
            "my new card has not arrived",
            "when will my card arrive",
            "still waiting for the card in the post",
            "card delivery is late",
            "where is my card it has not come",
        ],
    }
    return [t for ts in rows.values() for t in ts], [k for k, ts in rows.items() for _ in ts]


def test_words_decide_when_the_embeddings_cannot_tell_texts_apart(tmp_path: Path) -> None:
    texts, labels = _examples()
    model = LinearIntentModel.train(texts, labels, embedder=ConstantEmbedder())
    predicted = [
        p.intent for p in model.predict(["a fee for my bank transfer top up", "card fee top up"])
    ]
    assert predicted == ["top_up_by_bank_transfer_charge", "top_up_by_card_charge"]


def test_model_records_its_features_data_and_calibration(tmp_path: Path) -> None:
    texts, labels = _examples()
    model = LinearIntentModel.train(texts, labels, embedder=HashingEmbedder())
    meta = model.metadata
    assert meta.feature_set == FEATURE_SET
    assert meta.examples == 15
    assert len(meta.training_data_sha256) == 64
    assert meta.calibration_folds == 5
    assert meta.temperature > 0
    assert {"scikit-learn", "numpy"} <= meta.versions.keys()
    other = LinearIntentModel.train(
        [*texts[:-1], "another text"], labels, embedder=HashingEmbedder()
    )
    assert other.metadata.training_data_sha256 != meta.training_data_sha256


def test_probabilities_sum_to_one_and_follow_the_fitted_temperature(tmp_path: Path) -> None:
    texts, labels = _examples()
    model = LinearIntentModel.train(texts, labels, embedder=HashingEmbedder())
    vectors = HashingEmbedder().embed(texts)
    probabilities = model.predict_proba(texts, vectors)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(
        probabilities, softmax(model.scores(texts, vectors), model.metadata.temperature)
    )


def _saved_with_metadata(tmp_path: Path, **changes: object) -> Path:
    texts, labels = _examples()
    path = tmp_path / "m.npz"
    LinearIntentModel.train(texts, labels, embedder=HashingEmbedder()).save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    metadata = json.loads(str(arrays["metadata"]))
    metadata.update(changes)
    arrays["metadata"] = np.array(json.dumps(metadata))
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    return path


def test_model_trained_with_other_features_is_refused_with_a_clear_message(
    tmp_path: Path,
) -> None:
    path = _saved_with_metadata(tmp_path, feature_set="minilm+tfidf-word1-3")
    with pytest.raises(ModelUnavailable, match=r"stale.*'minilm\+tfidf-word1-3'.*supportbus train"):
        LinearIntentModel.load(path, embedder=HashingEmbedder(), taxonomy=_taxonomy(tmp_path))


@pytest.mark.parametrize("older", [1, 2], ids=["embedding-only", "without-nearest-examples"])
def test_model_file_of_an_older_format_is_refused(tmp_path: Path, older: int) -> None:
    path = _saved_with_metadata(tmp_path, format_version=older)
    with pytest.raises(ModelUnavailable, match=f"file format {older} != {FORMAT_VERSION}"):
        LinearIntentModel.load(path, embedder=HashingEmbedder(), taxonomy=_taxonomy(tmp_path))


def test_saved_model_scores_as_the_trained_one(tmp_path: Path) -> None:
    texts, labels = _examples()
    trained = LinearIntentModel.train(texts, labels, embedder=HashingEmbedder())
    trained.save(tmp_path / "m.npz")
    loaded = LinearIntentModel.load(
        tmp_path / "m.npz", embedder=HashingEmbedder(), taxonomy=_taxonomy(tmp_path)
    )
    asked = ["my card never came", "fee on a transfer top up", *texts]
    vectors = HashingEmbedder().embed(asked)
    np.testing.assert_array_equal(loaded.scores(asked, vectors), trained.scores(asked, vectors))


def test_two_intents_train_and_predict_like_more(tmp_path: Path) -> None:
    texts, labels = _examples()
    model = LinearIntentModel.train(texts[:10], labels[:10], embedder=HashingEmbedder())
    texts = ["charged a fee for a transfer top up", "charged a fee for a card top up"]
    predicted = [p.intent for p in model.predict(texts)]
    assert predicted == ["top_up_by_bank_transfer_charge", "top_up_by_card_charge"]
    assert model.predict_proba(texts, HashingEmbedder().embed(texts)).shape == (2, 2)


def test_fitted_temperature_recovers_the_one_the_labels_were_drawn_at() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(20_000, 5)) * 3
    probabilities = softmax(scores, 2.0)
    truth = np.array([rng.choice(5, p=row) for row in probabilities])
    assert fit_temperature(scores, truth) == pytest.approx(2.0, rel=0.05)


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    # 100 predictions at 0.8 confidence of which 80 are right; 100 at 0.5, 50 right.
    confidences = [0.8] * 100 + [0.5] * 100
    correct = [True] * 80 + [False] * 20 + [True] * 50 + [False] * 50
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.0)
    assert [b.count for b in reliability(confidences, correct)] == [100, 100]


def test_calibration_error_measures_overconfidence() -> None:
    confidences = [0.95] * 100
    correct = [True] * 70 + [False] * 30
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.25)
