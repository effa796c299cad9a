from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import (
    Article,
    Classification,
    ResponseReady,
    SupportRequest,
    Ticket,
    TicketCreated,
)
from supportbus_contracts.topics import RESPONSE_READY, TICKET_CREATED
from supportbus_devtools.testing import record_topic
from supportbus_llm_stub.testing import StubServer
from supportbus_responder.app import build_app, build_llm_composer
from supportbus_responder.ports import Reply, ReplyInput
from supportbus_responder.settings import ResponderSettings
from supportbus_responder.template import TemplateComposer
from supportbus_runtime.app import ServiceApp


def _articles() -> list[Article]:
    return [
        Article(
            article_id="kb-lost-card",
            title="Lost or stolen card",
            score=0.8,
            snippet="Freeze your card in the app at once.",
            url="https://kb/kb-lost-card",
        ),
        Article(
            article_id="kb-replace",
            title="Replacement cards",
            score=0.6,
            snippet="A replacement arrives in 3-5 days.",
            url="https://kb/kb-replace",
        ),
        Article(article_id="kb-other", title="Other", score=0.2, snippet="x"),
    ]


def _classification(priority: str = "urgent") -> Classification:
    return Classification(
        category="cards",
        intent="lost_or_stolen_card",
        priority=priority,  # type: ignore[arg-type]
        confidence=0.9,
        summary="Stolen",
        model="m",
    )


def _ticket() -> Ticket:
    return Ticket(ticket_id="TCK-42", url="http://helpdesk/v1/tickets/TCK-42", status="open")


def _request() -> SupportRequest:
    return SupportRequest(channel="email", customer_id="c1", email="a@example.com", body="Stolen!")


def _ticket_created(request_id: str) -> TicketCreated:
    return TicketCreated(
        request_id=request_id,
        request=_request(),
        classification=_classification(),
        articles=_articles(),
        ticket=_ticket(),
    )


async def _responses(service_app: ServiceApp, *events: TicketCreated) -> list[Any]:
    """What the service publishes on response.ready after handling ``events`` in order."""
    out = record_topic(service_app.broker, RESPONSE_READY)
    async with TestKafkaBroker(service_app.broker) as broker:
        for event in events:
            await broker.publish(event.model_dump_json().encode(), TICKET_CREATED)
    await service_app.aclose()  # the LLM pool: TestKafkaBroker runs none of the app's hooks
    return out


async def test_reply_is_grounded_in_top_articles_and_links_the_ticket() -> None:
    reply = await TemplateComposer(brand="Northwind Bank").compose(
        ReplyInput(_request(), _classification(), _articles(), _ticket())
    )
    assert reply.cited_article_ids == ["kb-lost-card", "kb-replace"]
    assert "Freeze your card in the app at once." in reply.text
    assert "Lost or stolen card" in reply.text
    assert "http://helpdesk/v1/tickets/TCK-42" in reply.text
    assert "urgent" in reply.text
    assert "kb-other" not in reply.text


async def test_reply_without_articles_promises_a_human_and_cites_nothing() -> None:
    reply = await TemplateComposer(brand="B").compose(
        ReplyInput(_request(), _classification("low"), [], _ticket())
    )
    assert reply.cited_article_ids == []
    assert "member of our team" in reply.text
    assert "urgent" not in reply.text


async def test_ticket_created_becomes_response_ready() -> None:
    service_app = build_app(ResponderSettings())
    out = await _responses(service_app, _ticket_created("req-3"))
    ready = ResponseReady.model_validate_json(out[0].body)
    assert ready.request_id == "req-3"
    assert ready.ticket.url in ready.reply
    assert ready.composer == "template"
    assert ready.cited_article_ids == ["kb-lost-card", "kb-replace"]


async def test_a_redelivered_ticket_yields_a_byte_identical_response() -> None:
    service_app = build_app(ResponderSettings())
    out = record_topic(service_app.broker, RESPONSE_READY)
    event = _ticket_created("req-6")
    record = event.model_dump_json().encode()
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(record, TICKET_CREATED)
        await asyncio.sleep(0.01)  # handled again later, as after a crash
        await broker.publish(record, TICKET_CREATED)
    assert len(out) == 2
    assert out[1].body == out[0].body
    assert ResponseReady.model_validate_json(out[0].body).occurred_at == event.occurred_at


class _RecordingComposer:
    async def compose(self, case: ReplyInput) -> Reply:
        return Reply(
            text=f"See {case.ticket.url}",
            cited_article_ids=[],
            composer="template",
            model="gpt-x",
            tokens=321,
            fallback_reason="reply_rejected:forbidden_link",
        )


async def test_response_ready_records_the_llm_model_tokens_and_fallback_reason() -> None:
    service_app = build_app(ResponderSettings(), composer=_RecordingComposer())
    out = await _responses(service_app, _ticket_created("req-4"))
    ready = ResponseReady.model_validate_json(out[0].body)
    assert (ready.model, ready.tokens) == ("gpt-x", 321)
    assert ready.fallback_reason == "reply_rejected:forbidden_link"


@pytest.fixture(scope="module")
def llm_stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.mark.parametrize(("composer", "llm_requests"), [("template", 0), ("llm", 1)])
async def test_composer_picked_by_settings_decides_who_writes_the_reply(
    llm_stub: StubServer, composer: str, llm_requests: int
) -> None:
    reply = (
        "Please freeze your card in the app at once [kb-lost-card]; a replacement arrives "
        f"in 3-5 days [kb-replace]. Follow your case at {_ticket().url}.\n\nNorthwind Bank"
    )
    llm_stub.script([], default={"kind": "content", "content": reply})
    settings = ResponderSettings(
        composer=composer,
        brand="Northwind Bank",
        llm_base_url=llm_stub.base_url,
        llm_model="stub-large",
        llm_retry_attempts=1,
    )
    service_app = build_app(settings)
    out = await _responses(service_app, _ticket_created("req-9"))
    ready = ResponseReady.model_validate_json(out[0].body)
    assert len(llm_stub.requests()) == llm_requests
    assert ready.fallback_reason is None
    if composer == "llm":
        assert (ready.composer, ready.model, ready.reply) == ("llm", "stub-large", reply)
    else:
        assert ready.composer == "template"
        assert "Lost or stolen card" in ready.reply


def test_llm_composer_rejects_a_reply_with_a_foreign_link() -> None:
    settings = ResponderSettings(composer="llm", llm_base_url="http://127.0.0.1:9/v1")
    composer = build_llm_composer(settings)
    problems = composer.problems(
        f"Freeze it [kb-lost-card] {_ticket().url} and see http://evil.example",
        ReplyInput(_request(), _classification(), _articles(), _ticket()),
    )
    assert problems == ["forbidden_link"]


class _CountingComposer:
    def __init__(self) -> None:
        self.calls = 0

    async def compose(self, case: ReplyInput) -> Reply:
        self.calls += 1
        return Reply(text=f"Automated, see {case.ticket.url}", cited_article_ids=[], composer="x")


async def test_a_request_routed_to_a_person_gets_a_holding_reply_with_the_ticket_link() -> None:
    automated = _CountingComposer()
    service_app = build_app(ResponderSettings(brand="Northwind Bank"), composer=automated)
    human = _ticket_created("req-h").model_copy(
        update={
            "classification": _classification().model_copy(
                update={"route": "human", "route_reason": "customer_asked"}
            )
        }
    )
    out = await _responses(service_app, human, _ticket_created("req-a"))
    replies = {r.request_id: r for r in (ResponseReady.model_validate_json(m.body) for m in out)}
    holding = replies["req-h"]
    assert holding.composer == "handoff"
    assert "As you asked, a member of our team will answer you personally." in holding.reply
    assert _ticket().url in holding.reply
    assert holding.cited_article_ids == []
    assert replies["req-a"].composer == "x"
    assert automated.calls == 1  # only the automated request reached the composer
