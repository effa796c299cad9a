"""The embedder runs the MiniLM export on onnxruntime itself; these pin it to the recipe it
replaced (fastembed's, for this model) so trained models and indexes stay valid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from supportbus_runtime.embedding import EMBEDDING_DIM, MiniLMEmbedder
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.settings import MINILM_MODEL_NAME, EmbeddingSettingsMixin, find_shared_dir

pytestmark = pytest.mark.model

TEXTS = [
    "I still have not received my new card",
    "why was I charged a fee for a transfer to another bank in euros last week?",
    "card",
    "The ATM swallowed my card and I need it back before I travel tomorrow morning, please help "
    "me as soon as possible because I have no other way to pay " * 20,  # past the token limit
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    path = EmbeddingSettingsMixin().resolved_model_path(find_shared_dir())
    if path is None:
        pytest.skip("the MiniLM model folder is not here (../shared)")
    return path


def test_vectors_equal_fastembeds_for_the_same_model(model_dir: Path) -> None:
    fastembed = pytest.importorskip("fastembed")
    reference = fastembed.TextEmbedding(MINILM_MODEL_NAME, specific_model_path=str(model_dir))
    expected = np.array(list(reference.embed(TEXTS, batch_size=2)))

    vectors = MiniLMEmbedder(model_dir, threads=1, batch_size=3).embed(TEXTS)

    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_a_text_embeds_the_same_alone_as_in_a_padded_batch(model_dir: Path) -> None:
    embedder = MiniLMEmbedder(model_dir, threads=1)

    alone = embedder.embed([TEXTS[2]])
    batched = embedder.embed(TEXTS)

    np.testing.assert_allclose(alone[0], batched[2], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


def test_a_folder_without_the_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no model\.onnx"):
        MiniLMEmbedder(tmp_path).load()
