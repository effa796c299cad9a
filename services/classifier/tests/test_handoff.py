"""The handoff policy: which requests a person answers, and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbus_classifier.app import handoff_policy
from supportbus_classifier.errors import TaxonomyError
from supportbus_classifier.handoff import HandoffPolicy, asks_for_a_person
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import Classification
from supportbus_devtools.testing import classification

ASKING = [
    "I want to talk to a human",
    "Can I speak with someone please?",
    "let me speak to a real person",
    "I need a human being to look at this",
    "Please connect me with an agent",
    "give me an operator",
    "real person please!!",
    "Human please",
    "agent, please",
    "no more bots, this is urgent",
    "I am not talking to a robot again",
    "stop the bot and get me someone",
    "I'd like to chat with a member of your team",
    "Can somebody call me back about my transfer?",
    "please escalate this to a supervisor",
    "I want to speak to the manager",
    "TALK TO A REPRESENTATIVE",
    "could I be put through to customer service",
    "i need to speak with someone from the support team",
    "Is there a live agent I can chat to?",
]

NOT_ASKING = [
    "My card has not arrived yet",
    "I need to update my personal details",
    "How do I change the name on my account?",
    "Where is the human resources address for the payslip?",
    "my transfer to another person is pending",
    "Can someone else use my card?",
    "The agent at the branch told me to top up online",
    "what is the exchange rate for euros",
    "I want to get a new card",
    "People keep charging my card",
]


@pytest.mark.parametrize("text", ASKING)
def test_a_customer_asking_for_a_person_is_recognised(text: str) -> None:
    assert asks_for_a_person(text)


@pytest.mark.parametrize("text", NOT_ASKING)
def test_a_request_that_does_not_ask_for_a_person_is_not_handed_off_for_it(text: str) -> None:
    assert not asks_for_a_person(text)


def _classification(intent: str = "card_arrival", confidence: float = 0.9) -> Classification:
    return classification(intent, confidence=confidence)


POLICY = HandoffPolicy(confidence_below=0.3, always_human_intents={"compromised_card"})


@pytest.mark.parametrize(
    ("text", "classification", "route", "reason"),
    [
        ("where is my card", _classification(), "auto", None),
        ("talk to a human please", _classification(), "human", "customer_asked"),
        ("where is my card", _classification(confidence=0.1), "human", "low_confidence"),
        ("someone used my card", _classification("compromised_card"), "human", "intent_policy"),
        # The customer's own ask wins over the other reasons: it is what the agent sees first.
        ("get me a person", _classification("compromised_card", 0.1), "human", "customer_asked"),
    ],
)
def test_the_policy_routes_with_the_first_reason_that_holds(
    text: str, classification: Classification, route: str, reason: str | None
) -> None:
    routed = POLICY.route(text, classification)
    assert (routed.route, routed.route_reason) == (route, reason)
    assert routed.intent == classification.intent  # nothing else changes


def test_the_customer_ask_can_be_turned_off() -> None:
    policy = HandoffPolicy(on_customer_request=False)
    assert policy.route("talk to a human", _classification()).route == "auto"


TAXONOMY = """
version: 1
categories: {cards: Cards}
intents:
  card_arrival: {category: cards, priority: normal, description: Waiting for a card.}
  compromised_card: {category: cards, priority: urgent, description: Fraud., human: true}
"""


def _settings(tmp_path: Path, **values: object) -> tuple[ClassifierSettings, Taxonomy]:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY)
    return ClassifierSettings(taxonomy_path=path, **values), Taxonomy.load(path)  # type: ignore[arg-type]


def test_intents_the_taxonomy_marks_human_always_go_to_a_person(tmp_path: Path) -> None:
    settings, taxonomy = _settings(tmp_path)
    policy = handoff_policy(settings, taxonomy)
    assert policy.reason("x", _classification("compromised_card")) == "intent_policy"
    assert policy.reason("x", _classification("card_arrival")) is None


def test_settings_add_always_human_intents(tmp_path: Path) -> None:
    settings, taxonomy = _settings(tmp_path, handoff_intents=["card_arrival"])
    assert handoff_policy(settings, taxonomy).reason("x", _classification()) == "intent_policy"


def test_an_unknown_always_human_intent_refuses_to_start(tmp_path: Path) -> None:
    settings, taxonomy = _settings(tmp_path, handoff_intents=["no_such_intent"])
    with pytest.raises(TaxonomyError, match="no_such_intent"):
        handoff_policy(settings, taxonomy)


def test_the_shipped_taxonomy_marks_compromised_cards_human() -> None:
    taxonomy = Taxonomy.load(ClassifierSettings().taxonomy_path)
    assert taxonomy.intents["compromised_card"].human
