from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from supportbus_contracts import (
    Article,
    Classification,
    KnowledgeRetrieved,
    QueryEmbedding,
    RequestClassified,
    RequestReceived,
    SupportRequest,
    Ticket,
    TicketCreated,
)
from supportbus_contracts.events import MAX_BODY_CHARS
from supportbus_contracts.topics import all_topics, dead_letter_topic


def _received(**request: object) -> RequestReceived:
    fields: dict[str, object] = {
        "channel": "chat",
        "customer_id": "cus_1",
        "body": "My card is lost",
    }
    fields.update(request)
    return RequestReceived(request_id="req-1", request=SupportRequest.model_validate(fields))


def _classification() -> Classification:
    return Classification(
        category="cards",
        intent="lost_or_stolen_card",
        priority="urgent",
        confidence=0.9,
        summary="Lost card",
        model="test",
    )


def test_envelope_fills_type_version_and_correlation() -> None:
    event = _received()
    assert event.type == "support.request.received"
    assert event.version == "1.0"
    assert event.correlation_id == "req-1"
    assert event.occurred_at.utcoffset() is not None


def test_json_round_trip_preserves_event() -> None:
    event = _received(email="ann@example.com", metadata={"source": "web-form"})
    assert RequestReceived.model_validate_json(event.model_dump_json()) == event


def test_derived_event_id_is_deterministic_so_redelivery_is_recognisable() -> None:
    cause = _received()
    first = RequestClassified.derived_from(
        cause, producer="classifier", request=cause.request, classification=_classification()
    )
    again = RequestClassified.derived_from(
        cause, producer="classifier", request=cause.request, classification=_classification()
    )
    assert first.event_id == again.event_id
    assert first.causation_id == cause.event_id
    assert first.request_id == cause.request_id
    other_cause = _received()
    assert other_cause.event_id != cause.event_id
    assert (
        RequestClassified.derived_from(
            other_cause, producer="c", request=cause.request, classification=_classification()
        ).event_id
        != first.event_id
    )


def test_deriving_twice_from_one_cause_gives_byte_identical_json_however_late() -> None:
    cause = _received(subject="Card", email="ann@example.com")
    first = RequestClassified.derived_from(
        cause, producer="classifier", request=cause.request, classification=_classification()
    )
    time.sleep(0.005)  # a redelivery is handled later: the clock must not leak into the event
    again = RequestClassified.derived_from(
        cause, producer="classifier", request=cause.request, classification=_classification()
    )
    assert again.model_dump_json() == first.model_dump_json()
    assert first.occurred_at == cause.occurred_at  # the time of the fact it rests on


def test_a_derived_event_may_be_dated_by_its_own_fact() -> None:
    cause = _received()
    articles = [Article(article_id="kb-1", title="t", snippet="s", score=0.5)]
    retrieved = KnowledgeRetrieved.derived_from(
        cause,
        producer="retriever",
        request=cause.request,
        classification=_classification(),
        articles=articles,
    )
    opened = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    ticket = Ticket(ticket_id="TCK-1", url="http://h/TCK-1", status="open", created_at=opened)
    created = TicketCreated.derived_from(
        retrieved,
        producer="ticketer",
        occurred_at=ticket.created_at,
        request=cause.request,
        classification=_classification(),
        articles=articles,
        ticket=ticket,
    )
    assert created.occurred_at == opened
    assert created.occurred_at.tzinfo == UTC
    assert created.version == "1.2"
    assert TicketCreated.model_validate_json(created.model_dump_json()) == created


def test_a_ticket_without_a_creation_time_still_reads() -> None:
    ticket = Ticket.model_validate({"ticket_id": "TCK-1", "url": "http://h/1", "status": "open"})
    assert ticket.created_at is None


def test_unknown_fields_from_a_newer_minor_version_are_ignored() -> None:
    payload = _received().model_dump(mode="json")
    payload["added_in_1_1"] = "something"
    payload["version"] = "1.1"
    assert RequestReceived.model_validate(payload).version == "1.1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", ""),
        ("body", "x" * (MAX_BODY_CHARS + 1)),
        ("channel", "fax"),
        ("email", "not-an-email"),
        ("customer_id", ""),
    ],
)
def test_invalid_request_fields_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        _received(**{field: value})


def test_a_major_version_other_than_1_is_rejected() -> None:
    payload = _received().model_dump(mode="json")
    payload["version"] = "2.0"
    with pytest.raises(ValidationError):
        RequestReceived.model_validate(payload)


def test_request_id_must_be_a_safe_key() -> None:
    with pytest.raises(ValidationError):
        RequestReceived(
            request_id="has spaces",
            request=SupportRequest(channel="api", customer_id="c", body="b"),
        )


def test_events_are_immutable() -> None:
    event = _received()
    with pytest.raises(ValidationError):
        event.request_id = "other"  # type: ignore[misc]


def test_every_consumed_topic_has_a_dead_letter_topic() -> None:
    topics = all_topics()
    assert "support.request.received.v1.dlq" in topics
    assert "support.response.ready.v1.dlq" not in topics  # nobody in the pipeline consumes it
    assert all(t.endswith(".v1") or t.endswith(".v1.dlq") for t in topics)
    with pytest.raises(ValueError, match="already"):
        dead_letter_topic("x.v1.dlq")


def test_event_id_is_a_uuid() -> None:
    assert isinstance(_received().event_id, uuid.UUID)


def _classified(**fields: Any) -> RequestClassified:
    cause = _received(subject="  Card ", body="It never came\n")
    return RequestClassified.derived_from(
        cause,
        producer="classifier",
        request=cause.request,
        classification=_classification(),
        **fields,
    )


def test_a_classified_event_of_version_1_0_without_an_embedding_still_reads() -> None:
    payload = _classified().model_dump(mode="json")
    del payload["query_embedding"]
    payload["version"] = "1.0"
    event = RequestClassified.model_validate(payload)
    assert event.query_embedding is None


def test_the_query_embedding_survives_json_and_names_its_model() -> None:
    embedding = QueryEmbedding(model="sentence-transformers/all-MiniLM-L6-v2", vector=[0.6, -0.8])
    event = _classified(query_embedding=embedding)
    assert event.version == "1.2"
    again = RequestClassified.model_validate_json(event.model_dump_json())
    assert again.query_embedding == embedding


@pytest.mark.parametrize("component", [float("nan"), float("inf")])
def test_a_query_embedding_with_non_finite_components_is_rejected(component: float) -> None:
    with pytest.raises(ValidationError):
        QueryEmbedding(model="m", vector=[0.1, component])


def test_the_embedded_text_is_subject_newline_body_stripped() -> None:
    assert _received(subject="  Card ", body="It never came\n").request.query_text() == (
        "Card \nIt never came"
    )
    assert _received(body="only a body ").request.query_text() == "only a body"
