"""The service computes the TF-IDF features itself; these hold them to scikit-learn's, which
fitted them, so a model scores in the service as it did when it was trained."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from supportbus_classifier.lexical_features import _ANALYZERS, LexicalFeatures

TRAINING = [
    "I still haven't received my new card, it's been two weeks",
    "Why was I charged a fee for topping up by card?",
    "my top-up is pending, is that normal??",
    "The ATM  swallowed\tmy card",
    "Can I get a refund for this transfer? Wrong amount, 100 EUR",
    "Ich habe meine Karte verloren — was nun?",
    "Café payment declined twice today",
    "a b c",
]


def _sklearn(texts: list[str]) -> np.ndarray:
    columns = []
    for _, options in _ANALYZERS:
        vectorizer = TfidfVectorizer(sublinear_tf=True, lowercase=True, **options).fit(TRAINING)
        columns.append(vectorizer.transform(texts).toarray())
    return np.hstack(columns)


_FEATURES = LexicalFeatures.fit(TRAINING)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(TRAINING),
            st.text(alphabet=st.sampled_from(list("abcdeé top-up,CARD's \t\n?!0123")), max_size=60),
            st.text(max_size=40),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_features_equal_scikit_learns_for_any_text(texts: list[str]) -> None:
    np.testing.assert_allclose(_FEATURES.transform(texts).toarray(), _sklearn(texts), atol=1e-12)


def test_saved_and_loaded_features_compute_the_same_rows() -> None:
    loaded = LexicalFeatures.from_arrays(_FEATURES.to_arrays())

    assert loaded.dimension == _FEATURES.dimension
    np.testing.assert_array_equal(
        loaded.transform(TRAINING).toarray(), _FEATURES.transform(TRAINING).toarray()
    )


def test_a_loaded_model_classifies_without_importing_scikit_learn_or_scipy(tmp_path: Path) -> None:
    # Training imports both; the service must not (100 MiB of RSS per process).
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from supportbus_classifier.linear_model import LinearIntentModel
        from supportbus_classifier.taxonomy import Taxonomy
        from supportbus_devtools.testing import HashingEmbedder
        path, taxonomy = Path({str(tmp_path / "model.npz")!r}), Path({str(tmp_path / "t.yaml")!r})
        model = LinearIntentModel.load(
            path, embedder=HashingEmbedder(), taxonomy=Taxonomy.load(taxonomy)
        )
        print(model.predict(["why was I charged for my top-up"])[0].intent)
        print(sorted(m for m in ("sklearn", "scipy") if m in sys.modules))
        """
    )
    _train_small_model(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split("\n")

    assert out[0] in {"top_up_by_card_charge", "card_arrival"}
    assert out[1] == "[]"


def _train_small_model(tmp_path: Path) -> None:
    from supportbus_classifier.linear_model import LinearIntentModel
    from supportbus_devtools.testing import HashingEmbedder

    (tmp_path / "t.yaml").write_text(
        textwrap.dedent(
            """
            version: 1
            categories: {cards: Cards, top_ups: Top-ups}
            intents:
              top_up_by_card_charge: {category: top_ups, priority: low, description: Fee.}
              card_arrival: {category: cards, priority: normal, description: Waiting.}
            """
        )
    )
    texts = [
        "fee for topping up with my card",
        "charged for a card top up",
        "top-up cost me a fee",
        "where is my new card",
        "my card has not arrived",
        "still waiting for the card",
    ]
    labels = ["top_up_by_card_charge"] * 3 + ["card_arrival"] * 3
    LinearIntentModel.train(texts, labels, embedder=HashingEmbedder()).save(tmp_path / "model.npz")
