"""The shipped data: taxonomy, knowledge base and sample requests agree with each other and with
the Banking77 intents."""

from __future__ import annotations

import json

import pytest

from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_cli.publishing import read_requests_file
from supportbus_cli.settings import CliSettings
from supportbus_retriever.kb import load_articles
from supportbus_retriever.settings import RetrieverSettings


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load(ClassifierSettings().taxonomy_path)


def test_taxonomy_has_exactly_the_banking77_intents(taxonomy: Taxonomy) -> None:
    categories_file = CliSettings().shared_dir / "datasets" / "banking77" / "categories.json"
    assert set(taxonomy.intents) == set(json.loads(categories_file.read_text()))


def test_urgent_and_low_priorities_are_where_customers_expect(taxonomy: Taxonomy) -> None:
    assert taxonomy.info("lost_or_stolen_card").priority == "urgent"
    assert taxonomy.info("compromised_card").priority == "urgent"
    assert taxonomy.info("exchange_rate").priority == "low"


def test_knowledge_base_answers_every_intent_with_at_least_40_articles(taxonomy: Taxonomy) -> None:
    articles = load_articles(RetrieverSettings().kb_dir)
    assert len(articles) >= 40
    tagged = {intent for article in articles for intent in article.intents}
    assert tagged == set(taxonomy.intents)
    assert {a.category for a in articles} <= set(taxonomy.categories)
    assert all(len(a.body.split()) >= 150 for a in articles)


def test_sample_requests_are_a_dozen_valid_requests() -> None:
    lines = read_requests_file(CliSettings().sample_requests)
    assert len(lines) == 12
    assert {line.request.channel for line in lines} == {"email", "chat", "api", "web"}
