from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pytest
from faststream.kafka import TestKafkaBroker
from opentelemetry.sdk.trace import ReadableSpan

from supportbus_classifier.app import build_app
from supportbus_classifier.errors import ModelUnavailable
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.service import ClassificationService, summarise
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import LabelledTexts, stratified_split, train_model
from supportbus_contracts import RequestClassified, RequestReceived, SupportRequest
from supportbus_contracts.topics import REQUEST_CLASSIFIED, REQUEST_RECEIVED, dead_letter_topic
from supportbus_devtools.testing import HashingEmbedder, record_topic
from supportbus_devtools.testing_spans import recorded_spans, spans_of_trace
from supportbus_runtime.llm.client import LlmResult, Prompt

if TYPE_CHECKING:
    from supportbus_runtime.llm import LlmClient

TAXONOMY = """
version: 1
categories:
  cards: Cards
  exchange: Exchange
intents:
  lost_or_stolen_card: {category: cards, priority: urgent, description: Card lost or stolen.}
  card_arrival: {category: cards, priority: normal, description: Waiting for a new card.}
  exchange_rate: {category: exchange, priority: low, description: Asks about exchange rates.}
"""

EXAMPLES = {
    "lost_or_stolen_card": [
        "my card was stolen",
        "I lost my card yesterday",
        "someone stole my wallet and card",
        "card lost please block it",
        "stolen card what do I do",
    ],
    "card_arrival": [
        "my new card has not arrived",
        "when will my card arrive",
        "still waiting for the card in the post",
        "card delivery is late",
        "where is my card it has not come",
    ],
    "exchange_rate": [
        "what is the exchange rate for euros",
        "how do you calculate exchange rates",
        "which rate do you use to exchange dollars",
        "is the exchange rate fair",
        "euro rate today",
    ],
}


@pytest.fixture
def taxonomy(tmp_path: Path) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY)
    return path


def _data() -> LabelledTexts:
    texts = [t for ts in EXAMPLES.values() for t in ts]
    labels = [label for label, ts in EXAMPLES.items() for _ in ts]
    return LabelledTexts(texts, labels)


def _model(taxonomy_path: Path, embedder: HashingEmbedder | None = None) -> LinearIntentModel:
    return train_model(
        _data(), embedder=embedder or HashingEmbedder(), taxonomy=Taxonomy.load(taxonomy_path)
    )


def _request(body: str, subject: str = "") -> SupportRequest:
    return SupportRequest(
        channel="email", customer_id="cus_1", email="a@example.com", subject=subject, body=body
    )


def test_stolen_card_is_classified_urgent_in_cards(taxonomy: Path) -> None:
    service = ClassificationService(_model(taxonomy), Taxonomy.load(taxonomy))
    result = service.classify(_request("Help, my card was stolen this morning"))
    assert (result.intent, result.category, result.priority) == (
        "lost_or_stolen_card",
        "cards",
        "urgent",
    )
    assert 0 < result.confidence <= 1
    assert result.model.startswith("minilm-tfidf-svm@")


def test_exchange_question_is_low_priority(taxonomy: Path) -> None:
    service = ClassificationService(_model(taxonomy), Taxonomy.load(taxonomy))
    assert service.classify(_request("what exchange rate do you use for dollars")).priority == "low"


def test_summary_prefers_subject_then_first_sentence() -> None:
    assert summarise(_request("body. more", subject="Card stolen"), "d") == "Card stolen"
    assert summarise(_request("My card is gone. I need help!"), "d") == "My card is gone."
    assert len(summarise(_request("x" * 1000), "d")) == 160


def test_saved_model_predicts_like_the_trained_one(taxonomy: Path, tmp_path: Path) -> None:
    model = _model(taxonomy)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = LinearIntentModel.load(
        path, embedder=HashingEmbedder(), taxonomy=Taxonomy.load(taxonomy)
    )
    texts = ["card stolen", "exchange rate", "a text with words it never saw"]
    vectors = HashingEmbedder().embed(texts)
    np.testing.assert_allclose(
        loaded.predict_proba(texts, vectors), model.predict_proba(texts, vectors), rtol=1e-6
    )
    assert loaded.metadata == model.metadata


def test_missing_model_refuses_start_with_a_clear_message(taxonomy: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="supportbus train"):
        LinearIntentModel.load(
            tmp_path / "none.npz", embedder=HashingEmbedder(), taxonomy=Taxonomy.load(taxonomy)
        )


def test_model_trained_for_another_taxonomy_is_stale(taxonomy: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    _model(taxonomy).save(path)
    taxonomy.write_text(
        TAXONOMY + "  card_linking: {category: cards, priority: normal, description: x}\n"
    )
    with pytest.raises(ModelUnavailable, match=r"stale.*card_linking"):
        LinearIntentModel.load(path, embedder=HashingEmbedder(), taxonomy=Taxonomy.load(taxonomy))


def test_model_trained_with_other_embeddings_is_stale(taxonomy: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    _model(taxonomy).save(path)
    with pytest.raises(ModelUnavailable, match="embeddings"):
        LinearIntentModel.load(
            path, embedder=HashingEmbedder(dimension=128), taxonomy=Taxonomy.load(taxonomy)
        )


def test_stratified_split_holds_out_every_label() -> None:
    train, test = stratified_split(_data(), 0.2)
    assert set(test.labels) == set(EXAMPLES)
    assert len(train) + len(test) == len(_data())
    assert not set(train.texts) & set(test.texts)


async def test_received_request_is_published_classified(taxonomy: Path) -> None:
    settings = ClassifierSettings(taxonomy_path=taxonomy)
    service_app = build_app(settings, model=_model(taxonomy))
    out = record_topic(service_app.broker, REQUEST_CLASSIFIED)
    event = RequestReceived(request_id="req-7", request=_request("I lost my card yesterday"))
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event.model_dump_json().encode(), REQUEST_RECEIVED, key=b"req-7")
    assert len(out) == 1
    classified = RequestClassified.model_validate_json(out[0].body)
    assert classified.classification.intent == "lost_or_stolen_card"
    assert classified.causation_id == event.event_id
    assert out[0].key == b"req-7"
    assert classified.query_embedding is not None
    assert classified.query_embedding.model == HashingEmbedder().name
    expected = HashingEmbedder().embed([event.request.query_text()])[0]
    np.testing.assert_allclose(classified.query_embedding.vector, expected, atol=5e-7)


async def test_a_redelivered_request_yields_a_byte_identical_classified_event(
    taxonomy: Path,
) -> None:
    service_app = build_app(ClassifierSettings(taxonomy_path=taxonomy), model=_model(taxonomy))
    out = record_topic(service_app.broker, REQUEST_CLASSIFIED)
    event = RequestReceived(
        request_id="req-r", request=_request("Help, my card was stolen", subject="Card")
    )
    record = event.model_dump_json().encode()
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(record, REQUEST_RECEIVED, key=b"req-r")
        await asyncio.sleep(0.01)  # handled again later, as after a crash
        await broker.publish(record, REQUEST_RECEIVED, key=b"req-r")
    assert len(out) == 2
    assert out[1].body == out[0].body
    assert RequestClassified.model_validate_json(out[0].body).occurred_at == event.occurred_at


async def test_a_texts_confidence_does_not_depend_on_the_texts_batched_with_it(
    taxonomy: Path,
) -> None:
    # In one matrix product for the whole batch, float32 sums in another order than for one
    # row: the same text got probabilities a few units of 1e-7 apart, so a redelivered record
    # batched with other texts could carry another confidence.
    service = ClassificationService(
        _model(taxonomy), Taxonomy.load(taxonomy), batch_max=64, batch_wait_ms=5
    )
    texts = [t for ts in EXAMPLES.values() for t in ts] + ["my card was stolen abroad, help"]
    alone = [(await service.batcher.submit_batched(t)).value for t in texts]
    together = await asyncio.gather(*(service.batcher.submit_batched(t) for t in texts))
    assert {batched.size for batched in together} == {len(texts)}
    assert [b.value.prediction for b in together] == [a.prediction for a in alone]
    assert [b.value.embedding for b in together] == [a.embedding for a in alone]
    await service.aclose()


async def test_each_request_traces_classify_with_its_embed_and_inference_inside(
    taxonomy: Path,
) -> None:
    spans = recorded_spans()
    service_app = build_app(ClassifierSettings(taxonomy_path=taxonomy), model=_model(taxonomy))
    event = RequestReceived(request_id="req-9", request=_request("my card was stolen"))
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event.model_dump_json().encode(), REQUEST_RECEIVED, key=b"req-9")
    trace = spans_of_trace(spans, "classify")
    (classify,) = [s for s in trace if s.name == "classify"]
    children = {s.name: s for s in trace if s.parent and s.parent.span_id == _id(classify)}
    assert {"embed", "model_inference"} <= children.keys()
    embed, inference = children["embed"], children["model_inference"]
    assert _start(classify) <= _start(embed) <= _end(embed) <= _start(inference)
    assert _end(inference) <= _end(classify)
    assert (embed.attributes or {})["supportbus.batch_size"] == 1


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def _start(span: ReadableSpan) -> int:
    assert span.start_time is not None
    return span.start_time


def _end(span: ReadableSpan) -> int:
    assert span.end_time is not None
    return span.end_time


async def test_concurrent_requests_share_one_embedding_call_and_match_one_by_one_results(
    taxonomy: Path,
) -> None:
    embedder = HashingEmbedder()
    service = ClassificationService(
        _model(taxonomy, embedder), Taxonomy.load(taxonomy), batch_max=32, batch_wait_ms=1
    )
    requests = [_request(text) for texts in EXAMPLES.values() for text in texts[:2]]
    one_by_one = [service.classify(r) for r in requests]
    calls = embedder.calls
    decisions = await asyncio.gather(*(service.decide(r) for r in requests))
    assert embedder.calls == calls + 1
    assert [d.classification for d in decisions] == one_by_one
    for request, decision in zip(requests, decisions, strict=True):
        assert decision.query_embedding is not None
        np.testing.assert_allclose(
            decision.query_embedding.vector,
            embedder.embed([request.query_text()])[0],
            atol=5e-7,
        )
    await service.aclose()


async def test_the_llm_provider_hands_on_the_local_models_embedding(taxonomy: Path) -> None:
    from supportbus_classifier.app import build_classifier

    settings = ClassifierSettings(
        taxonomy_path=taxonomy,
        provider="hybrid",
        hybrid_threshold=0.0,  # the local decision stands: no LLM call
        llm_base_url="http://127.0.0.1:9/v1",
    )
    local = ClassificationService(_model(taxonomy), Taxonomy.load(taxonomy))
    decision = await build_classifier(settings, local, Taxonomy.load(taxonomy)).decide(
        _request("my card was stolen")
    )
    assert decision.query_embedding is not None
    assert decision.query_embedding.model == HashingEmbedder().name
    await local.aclose()


async def test_invalid_request_goes_to_dead_letter_and_next_one_is_classified(
    taxonomy: Path,
) -> None:
    service_app = build_app(ClassifierSettings(taxonomy_path=taxonomy), model=_model(taxonomy))
    out = record_topic(service_app.broker, REQUEST_CLASSIFIED)
    dlq = record_topic(service_app.broker, dead_letter_topic(REQUEST_RECEIVED))
    good = RequestReceived(request_id="req-8", request=_request("when will my card arrive"))
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(
            b'{"request_id": "req-x", "request": {"channel": "fax"}}', REQUEST_RECEIVED
        )
        await broker.publish(good.model_dump_json().encode(), REQUEST_RECEIVED)
    assert len(dlq) == 1
    assert dlq[0].headers["x-dlq-error-type"] == "SchemaValidationError"
    assert "request.channel" in dlq[0].headers["x-dlq-error-message"]
    assert [RequestClassified.model_validate_json(m.body).request_id for m in out] == ["req-8"]


class CountingLlm:
    """Stands in for the LLM client: counts calls and always answers exchange_rate."""

    def __init__(self) -> None:
        self.calls = 0

    async def structured(self, prompt: Prompt, schema: type[Any]) -> LlmResult[Any]:
        self.calls += 1
        value = schema(intent="exchange_rate", confidence=0.9, summary="Asks about a rate.")
        return LlmResult(value=value, model="fake-llm", prompt_tokens=10, completion_tokens=5)


# The threshold sits above any local confidence (1.0) or below it (0.0): local ignores it
# and never calls the LLM, llm ignores it and always calls, hybrid calls only below it.
@pytest.mark.parametrize(
    ("provider", "threshold", "llm_calls", "decided_by"),
    [
        ("local", 1.0, 0, "local"),
        ("llm", 0.0, 1, "fake-llm"),
        ("hybrid", 0.0, 0, "local"),
        ("hybrid", 1.0, 1, "fake-llm"),
    ],
)
async def test_provider_picked_by_settings_decides_who_classifies(
    taxonomy: Path, provider: str, threshold: float, llm_calls: int, decided_by: str
) -> None:
    from supportbus_classifier.app import build_classifier

    settings = ClassifierSettings(
        taxonomy_path=taxonomy, provider=provider, hybrid_threshold=threshold
    )
    llm = CountingLlm()
    local = ClassificationService(_model(taxonomy), Taxonomy.load(taxonomy))
    chosen = build_classifier(
        settings, local, Taxonomy.load(taxonomy), client=cast("LlmClient", llm)
    )
    result = await chosen.classify_async(_request("my card was stolen"))
    assert llm.calls == llm_calls
    if decided_by == "local":
        assert result.model.startswith("minilm-tfidf-svm@")
    else:
        assert (result.model, result.intent) == ("fake-llm", "exchange_rate")


async def test_hybrid_keeps_a_confident_local_decision_without_calling_the_llm(
    taxonomy: Path,
) -> None:
    from supportbus_classifier.app import build_classifier

    settings = ClassifierSettings(
        taxonomy_path=taxonomy,
        provider="hybrid",
        hybrid_threshold=0.0,  # every local decision is confident enough
        llm_base_url="http://127.0.0.1:9/v1",  # nothing listens: a call would fail
    )
    local = ClassificationService(_model(taxonomy), Taxonomy.load(taxonomy))
    result = await build_classifier(settings, local, Taxonomy.load(taxonomy)).classify_async(
        _request("my card was stolen")
    )
    assert result.model.startswith("minilm-tfidf-svm@")
    assert result.fallback_reason is None


async def test_a_customer_asking_for_a_person_is_classified_for_handoff_and_counted(
    taxonomy: Path,
) -> None:
    service_app = build_app(ClassifierSettings(taxonomy_path=taxonomy), model=_model(taxonomy))
    out = record_topic(service_app.broker, REQUEST_CLASSIFIED)
    asking = RequestReceived(
        request_id="req-h", request=_request("my card was stolen, get me a human")
    )
    plain = RequestReceived(request_id="req-a", request=_request("my card was stolen"))
    async with TestKafkaBroker(service_app.broker) as broker:
        for event in (asking, plain):
            await broker.publish(event.model_dump_json().encode(), REQUEST_RECEIVED)
    routed = {
        e.request_id: e.classification
        for e in (RequestClassified.model_validate_json(m.body) for m in out)
    }
    assert (routed["req-h"].route, routed["req-h"].route_reason) == ("human", "customer_asked")
    assert (routed["req-a"].route, routed["req-a"].route_reason) == ("auto", None)
    registry = service_app.metrics.registry
    assert registry.get_sample_value("supportbus_handoffs_total", {"reason": "customer_asked"}) == 1
