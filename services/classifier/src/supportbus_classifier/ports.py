"""What the classification logic needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from supportbus_contracts import Classification, SupportRequest


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


class Classifier(Protocol):
    """What the event handler calls: the local service, or the LLM/hybrid one around it."""

    async def classify_async(self, request: SupportRequest) -> Classification: ...
