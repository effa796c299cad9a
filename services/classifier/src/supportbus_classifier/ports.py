"""What the classification logic needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from supportbus_contracts import Classification, QueryEmbedding, SupportRequest

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class IntentPrediction:
    intent: str
    confidence: float


class IntentModel(Protocol):
    @property
    def name(self) -> str:
        """Recorded on each classification as the model that decided."""
        ...

    @property
    def labels(self) -> Sequence[str]: ...

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]: ...


@runtime_checkable
class EmbeddingIntentModel(IntentModel, Protocol):
    """An intent model over sentence embeddings whose two steps can be called apart: the
    classifier then traces each step and hands the embedding on (the retriever embeds the
    very same text with the same model)."""

    @property
    def embedding_model(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def predict_embedded(
        self, texts: Sequence[str], vectors: NDArray[np.float32]
    ) -> list[IntentPrediction]:
        """The intents of ``texts`` whose embeddings ``vectors`` (one row each) are computed."""
        ...


@dataclass(frozen=True)
class Decision:
    """A classification, and the request's embedding when the model computed one."""

    classification: Classification
    query_embedding: QueryEmbedding | None = None


class Classifier(Protocol):
    """What the event handler calls: the local service, or the LLM/hybrid one around it."""

    async def classify_async(self, request: SupportRequest) -> Classification: ...

    async def decide(self, request: SupportRequest) -> Decision: ...
