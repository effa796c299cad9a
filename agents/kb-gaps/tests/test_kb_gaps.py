from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import KnowledgeRetrieved
from supportbus_contracts.schemas import compatibility_problems
from supportbus_contracts.topics import (
    DLQ_HEADER_SERVICE,
    KNOWLEDGE_RETRIEVED,
    dead_letter_topic,
)
from supportbus_devtools.testing import RecordedMessage, record_topic
from supportbus_kb_gaps.app import build_app
from supportbus_kb_gaps.catalog import load_catalog
from supportbus_kb_gaps.decision import find_gap, gap_found
from supportbus_kb_gaps.declaration import DECLARATION, GAP_FOUND_TOPIC
from supportbus_kb_gaps.events import ALL_EVENTS, KnowledgeGapFound
from supportbus_kb_gaps.settings import KbGapsSettings
from supportbus_runtime.kit import ConfigurationError
from supportbus_runtime.settings import repo_root

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
CATALOG = {
    "kb-lost-card": frozenset({"lost_or_stolen_card"}),
    "kb-card-delivery": frozenset({"card_arrival", "card_delivery_estimate"}),
}
MIN_SCORE = 0.5
Retrieved = Callable[..., KnowledgeRetrieved]  # the conftest's factory


def test_an_answering_article_above_the_threshold_is_no_gap(retrieved: Retrieved) -> None:
    assert find_gap(retrieved(), CATALOG, MIN_SCORE) is None


def test_no_retrieved_article_tagged_with_the_intent_is_a_gap(retrieved: Retrieved) -> None:
    gap = find_gap(retrieved(intent="exchange_rate"), CATALOG, MIN_SCORE)
    assert gap is not None
    assert (gap.reason, gap.best_score) == ("no_article_for_intent", 0.8)


def test_nothing_retrieved_is_a_gap_without_a_score(retrieved: Retrieved) -> None:
    gap = find_gap(retrieved(scores={}), CATALOG, MIN_SCORE)
    assert gap is not None
    assert (gap.reason, gap.best_score) == ("no_article_for_intent", None)


def test_a_weak_best_answering_article_is_a_low_score_gap(retrieved: Retrieved) -> None:
    event = retrieved(scores={"kb-card-delivery": 0.9, "kb-lost-card": 0.42})
    gap = find_gap(event, CATALOG, MIN_SCORE)
    assert gap is not None
    assert (gap.reason, gap.best_score) == ("low_score", 0.42)


def test_an_article_missing_from_the_catalog_answers_nothing(retrieved: Retrieved) -> None:
    gap = find_gap(retrieved(scores={"kb-retired": 0.9}), CATALOG, MIN_SCORE)
    assert gap is not None
    assert gap.reason == "no_article_for_intent"


def test_the_gap_event_carries_a_redacted_example_never_the_raw_body(retrieved: Retrieved) -> None:
    event = retrieved(intent="exchange_rate")
    gap = find_gap(event, CATALOG, MIN_SCORE)
    assert gap is not None
    found = gap_found(event, gap, min_score=MIN_SCORE, producer="kb-gaps")
    assert "ann@example.com" not in found.example_question
    assert "7946" not in found.example_question
    assert found.example_question.startswith("I lost my card")
    assert found.article_ids == ["kb-lost-card", "kb-card-delivery"]
    assert (found.intent, found.category, found.min_score) == ("exchange_rate", "cards", 0.5)
    assert found.causation_id == event.event_id
    assert gap_found(event, gap, min_score=MIN_SCORE, producer="kb-gaps") == found


def test_a_long_question_is_trimmed_to_fit_the_event(retrieved: Retrieved) -> None:
    event = retrieved(intent="exchange_rate", body="why " * 2_000)
    gap = find_gap(event, CATALOG, MIN_SCORE)
    assert gap is not None
    found = gap_found(event, gap, min_score=MIN_SCORE, producer="kb-gaps")
    assert len(found.example_question) == 500


def test_the_catalog_reads_every_article_of_the_knowledge_base() -> None:
    catalog = load_catalog(repo_root() / "data" / "kb")
    assert len(catalog) == 73
    assert "activate_my_card" in catalog["kb-activate-card"]


def test_an_article_without_front_matter_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "kb-x.md").write_text("# no front matter\n")
    with pytest.raises(ConfigurationError, match="no front matter"):
        load_catalog(tmp_path)
    with pytest.raises(ConfigurationError, match="no articles"):
        load_catalog(tmp_path / "empty")


def test_committed_schemas_are_compatible_with_the_code() -> None:
    assert compatibility_problems(ALL_EVENTS, SCHEMAS) == {}


def test_settings_use_their_own_prefix_port_and_consumer_group() -> None:
    settings = KbGapsSettings()
    assert settings.http_port == 9105
    assert settings.effective_group_id(DECLARATION.name) == "supportbus-kb-gaps"


async def _handled(*records: bytes) -> tuple[list[RecordedMessage], list[RecordedMessage]]:
    service_app = build_app(KbGapsSettings(), catalog=CATALOG)
    gaps = record_topic(service_app.broker, GAP_FOUND_TOPIC)
    dlq = record_topic(service_app.broker, dead_letter_topic(KNOWLEDGE_RETRIEVED))
    async with TestKafkaBroker(service_app.broker) as broker:
        for record in records:
            await broker.publish(record, KNOWLEDGE_RETRIEVED, key=b"req-1")
    return gaps, dlq


async def test_a_retrieval_without_an_answer_publishes_a_gap(retrieved: Retrieved) -> None:
    gaps, dlq = await _handled(retrieved(intent="exchange_rate").model_dump_json().encode())
    assert not dlq
    (gap,) = gaps
    event = KnowledgeGapFound.model_validate_json(gap.body)
    assert (event.reason, event.intent, event.producer) == (
        "no_article_for_intent",
        "exchange_rate",
        "kb-gaps",
    )
    assert gap.key == b"req-1"


async def test_a_well_answered_retrieval_publishes_nothing(retrieved: Retrieved) -> None:
    gaps, dlq = await _handled(retrieved().model_dump_json().encode())
    assert (gaps, dlq) == ([], [])


async def test_a_malformed_record_is_dead_lettered_by_kb_gaps() -> None:
    gaps, dlq = await _handled(b'{"not": "a retrieved event"}')
    assert not gaps
    (letter,) = dlq
    assert letter.body == b'{"not": "a retrieved event"}'
    assert letter.headers[DLQ_HEADER_SERVICE] == "kb-gaps"
