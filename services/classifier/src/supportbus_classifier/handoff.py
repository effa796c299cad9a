"""Who answers a request: the pipeline, or a person (the handoff).

A request goes to a person when the customer asks for one, when the classifier is not sure
enough (confidence below the policy's threshold), or when its intent is configured as always
handled by people (e.g. fraud or a compromised account). The first reason found wins, in that
order: what the customer asked for is what the agent should see first.

The "asks for a person" test is a set of patterns, not a model: it must be explainable to a
support lead and never miss the plain wordings ("talk to a human", "real person please",
"can I speak with an agent"), and it must not fire on "human resources" or "personal details".
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from supportbus_contracts import Classification, HandoffReason

_PERSON = (
    r"(?:a\s+|an\s+|the\s+|some\s*one\s*|somebody\s*|your\s+)?(?:real\s+|live\s+|actual\s+)?"
    r"(?:human(?:\s+being)?|person|people|agent|operator|representative|rep|advisor|adviser|"
    r"staff(?:\s+member)?|member\s+of\s+(?:staff|your\s+team)|supervisor|manager|someone|"
    r"somebody|customer\s+service|support\s+team)"
)
_ASKS_FOR_A_PERSON = re.compile(
    "|".join(
        (
            # "talk to a human", "speak with someone", "chat to a real person"
            rf"\b(?:talk|speak|chat|get\s+through|be\s+put\s+through|connect\s+me)\s+"
            rf"(?:to|with)\s+{_PERSON}\b",
            # "I want a human", "I need a real person", "give me an agent"
            rf"\b(?:want|need|get(?:\s+me)?|give\s+me|request|prefer)\s+{_PERSON}(?!\s+(?:resources|"
            r"details|data|information|account|loan))\b",
            # "real person please", "human please", "agent, please"
            r"\b(?:real|live|actual)\s+(?:human|person|agent)\b",
            r"\b(?:human|person|agent|operator)\s*,?\s+please\b",
            # "no more bots", "stop the bot", "not a robot"
            r"\b(?:no|not\s+a|stop\s+the|hate\s+(?:this|the))\s+(?:more\s+)?(?:bot|robot|"
            r"machine|automated\s+(?:reply|replies|answer|answers))s?\b",
            r"\b(?:talk|talking|speak|speaking|chat|chatting)\s+(?:to|with)\s+(?:a\s+|this\s+|the\s+)?"
            r"(?:bot|robot|machine)\b",
            # "escalate this", "call me back"
            r"\bescalate\b",
            r"\bcall\s+me(?:\s+back)?\b",
        )
    ),
    re.IGNORECASE,
)


def asks_for_a_person(text: str) -> bool:
    """Whether the customer's own words ask for a person."""
    return _ASKS_FOR_A_PERSON.search(text) is not None


@dataclass(frozen=True)
class HandoffPolicy:
    """When a request goes to a person (settings: ``CLASSIFIER_HANDOFF_*``)."""

    confidence_below: float = 0.0
    always_human_intents: Collection[str] = ()
    on_customer_request: bool = True

    def reason(self, text: str, classification: Classification) -> HandoffReason | None:
        return self.reason_for(text, classification.intent, classification.confidence)

    def reason_for(self, text: str, intent: str, confidence: float) -> HandoffReason | None:
        """Why a request with this text, intent and confidence goes to a person, if it does."""
        if self.on_customer_request and asks_for_a_person(text):
            return "customer_asked"
        if confidence < self.confidence_below:
            return "low_confidence"
        if intent in self.always_human_intents:
            return "intent_policy"
        return None

    def route(self, text: str, classification: Classification) -> Classification:
        """``classification`` with its route decided."""
        reason = self.reason(text, classification)
        if reason is None:
            return classification.model_copy(update={"route": "auto", "route_reason": None})
        return classification.model_copy(update={"route": "human", "route_reason": reason})
