"""The classification decision: intent from the model; category and priority from the taxonomy."""

from __future__ import annotations

import re

from supportbus_classifier.ports import IntentModel
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import Classification, SupportRequest

_SUMMARY_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def request_text(request: SupportRequest) -> str:
    """What the model reads: the subject (often the clearest line) and the body."""
    return f"{request.subject}\n{request.body}".strip()


def summarise(request: SupportRequest, intent_description: str) -> str:
    """An extractive one-liner for agents: the customer's first sentence, or the subject."""
    first = _SENTENCE_END.split(" ".join(request.body.split()), maxsplit=1)[0]
    text = request.subject.strip() or first or intent_description
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1].rstrip() + "…"


class ClassificationService:
    def __init__(self, model: IntentModel, taxonomy: Taxonomy) -> None:
        missing = set(model.labels) - taxonomy.intents.keys()
        if missing:
            raise ValueError(f"model knows intents the taxonomy lacks: {sorted(missing)}")
        self._model = model
        self._taxonomy = taxonomy

    def classify(self, request: SupportRequest) -> Classification:
        prediction = self._model.predict([request_text(request)])[0]
        info = self._taxonomy.info(prediction.intent)
        return Classification(
            category=info.category,
            intent=prediction.intent,
            priority=info.priority,
            confidence=round(min(max(prediction.confidence, 0.0), 1.0), 4),
            summary=summarise(request, info.description),
            model=self._model.name,
        )

    async def classify_async(self, request: SupportRequest) -> Classification:
        return self.classify(request)
