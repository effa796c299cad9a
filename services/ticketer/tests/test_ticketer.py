from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import (
    Article,
    Classification,
    KnowledgeRetrieved,
    SupportRequest,
    Ticket,
    TicketCreated,
)
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, TICKET_CREATED, dead_letter_topic
from supportbus_devtools.testing import record_topic
from supportbus_ticketer.app import build_app
from supportbus_ticketer.errors import HelpdeskUnavailable, TicketRejected
from supportbus_ticketer.helpdesk_client import HelpdeskClient
from supportbus_ticketer.ports import TicketDraft
from supportbus_ticketer.settings import TicketerSettings


class InMemoryTickets:
    """A ticketing system that honours idempotency keys, like the real helpdesk."""

    def __init__(self) -> None:
        self.by_key: dict[str, Ticket] = {}
        self.drafts: dict[str, TicketDraft] = {}
        self.calls = 0

    async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
        self.calls += 1
        self.drafts.setdefault(idempotency_key, draft)
        if idempotency_key not in self.by_key:
            number = len(self.by_key) + 1
            self.by_key[idempotency_key] = Ticket(
                ticket_id=f"TCK-{number}",
                url=f"http://helpdesk/t/{number}",
                status="open",
                created_at=datetime.now(UTC),
            )
        return self.by_key[idempotency_key]


def _retrieved(request_id: str = "req-1") -> KnowledgeRetrieved:
    return KnowledgeRetrieved(
        request_id=request_id,
        request=SupportRequest(
            channel="email",
            customer_id="c1",
            email="a@example.com",
            subject="Stolen card",
            body="My card was stolen",
        ),
        classification=Classification(
            category="cards",
            intent="lost_or_stolen_card",
            priority="urgent",
            confidence=0.9,
            summary="Stolen card",
            model="m",
        ),
        articles=[Article(article_id="kb-lost", title="Lost card", snippet="Freeze it", score=0.8)],
    )


def _draft() -> TicketDraft:
    return TicketDraft(
        request_id="req-1",
        subject="s",
        body="b",
        customer_id="c",
        customer_email=None,
        category="cards",
        intent="card_arrival",
        priority="normal",
    )


async def test_redelivered_event_creates_no_second_ticket() -> None:
    tickets = InMemoryTickets()
    service_app = build_app(TicketerSettings(), tickets=tickets)
    out = record_topic(service_app.broker, TICKET_CREATED)
    event = _retrieved().model_dump_json().encode()
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event, KNOWLEDGE_RETRIEVED)
        await asyncio.sleep(0.01)
        await broker.publish(event, KNOWLEDGE_RETRIEVED)  # redelivery after a crash
    assert len(tickets.by_key) == 1
    created = [TicketCreated.model_validate_json(m.body) for m in out]
    assert {c.ticket.ticket_id for c in created} == {"TCK-1"}
    assert out[1].body == out[0].body  # the very same event: a duplicate, byte for byte
    assert created[0].occurred_at == tickets.by_key["req-1"].created_at  # dated by the ticket
    assert created[0].articles[0].article_id == "kb-lost"


async def test_a_ticket_without_a_creation_time_dates_the_event_by_its_cause() -> None:
    class Undated(InMemoryTickets):
        async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
            ticket = await super().create_ticket(draft, idempotency_key=idempotency_key)
            return ticket.model_copy(update={"created_at": None})

    service_app = build_app(TicketerSettings(), tickets=Undated())
    out = record_topic(service_app.broker, TICKET_CREATED)
    cause = _retrieved()
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(cause.model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert TicketCreated.model_validate_json(out[0].body).occurred_at == cause.occurred_at


def _client(handler: httpx.MockTransport) -> HelpdeskClient:
    return HelpdeskClient(httpx.AsyncClient(base_url="http://helpdesk", transport=handler))


CREATED_AT = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)


def _ticket_json() -> dict[str, str]:
    return {
        "id": "TCK-9",
        "url": "http://helpdesk/v1/tickets/TCK-9",
        "status": "open",
        # as the helpdesk writes it: another offset than UTC must read as the same instant
        "created_at": CREATED_AT.astimezone(timezone(timedelta(hours=2))).isoformat(),
    }


@pytest.mark.parametrize("failure", ["timeout", "refused", 503, 429])
async def test_each_transient_helpdesk_failure_is_one_attempt_and_a_transient_error(
    failure: str | int,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if failure == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if failure == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(int(failure))

    client = _client(httpx.MockTransport(answer))
    with pytest.raises(HelpdeskUnavailable):
        await client.create_ticket(_draft(), idempotency_key="k")
    assert client.attempts_made == 1  # retrying is the delivery policy's job, not the client's


async def test_client_errors_are_not_retried() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(409, json={"detail": "key reused with another payload"})

    with pytest.raises(TicketRejected, match="409"):
        await _client(httpx.MockTransport(answer)).create_ticket(_draft(), idempotency_key="k")
    assert calls == 1


async def test_delivery_policy_retries_a_flaky_helpdesk_with_the_same_key_into_one_ticket() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Idempotency-Key"])
        if len(seen) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if len(seen) == 2:
            return httpx.Response(503)
        return httpx.Response(201, json=_ticket_json())

    settings = TicketerSettings(retry_initial_backoff_s=0.001, retry_max_backoff_s=0.01)
    service_app = build_app(settings, tickets=_client(httpx.MockTransport(answer)))
    out = record_topic(service_app.broker, TICKET_CREATED)
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(_retrieved().model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert seen == ["req-1", "req-1", "req-1"]  # one owner of retries: three POSTs, not 3 x 4
    created = TicketCreated.model_validate_json(out[0].body)
    assert created.ticket.ticket_id == "TCK-9"
    assert created.ticket.created_at == CREATED_AT
    assert created.occurred_at == CREATED_AT


async def test_outage_longer_than_the_retry_budget_is_dead_lettered_saying_so() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = _client(httpx.MockTransport(answer))
    settings = TicketerSettings(
        retry_attempts=4, retry_initial_backoff_s=0.001, retry_max_backoff_s=0.01
    )
    service_app = build_app(settings, tickets=client)
    dlq = record_topic(service_app.broker, dead_letter_topic(KNOWLEDGE_RETRIEVED))
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(_retrieved().model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert client.attempts_made == 4
    assert dlq[0].headers["x-dlq-error-type"] == "HelpdeskUnavailable"
    assert dlq[0].headers["x-dlq-attempts"] == "4"
    assert "retry budget" in dlq[0].headers["x-dlq-error-message"]


async def test_rejected_ticket_is_dead_lettered() -> None:
    class Rejecting(InMemoryTickets):
        async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
            raise TicketRejected("helpdesk rejected the ticket: HTTP 422")

    service_app = build_app(TicketerSettings(), tickets=Rejecting())
    dlq = record_topic(service_app.broker, dead_letter_topic(KNOWLEDGE_RETRIEVED))
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(_retrieved().model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert dlq[0].headers["x-dlq-error-type"] == "TicketRejected"


async def test_a_request_routed_to_a_person_opens_its_ticket_in_the_human_queue() -> None:
    tickets = InMemoryTickets()
    service_app = build_app(TicketerSettings(), tickets=tickets)
    plain = _retrieved("req-a")
    human = _retrieved("req-h")
    human = human.model_copy(
        update={
            "classification": human.classification.model_copy(
                update={"route": "human", "route_reason": "intent_policy"}
            )
        }
    )
    async with TestKafkaBroker(service_app.broker) as broker:
        for event in (plain, human):
            await broker.publish(event.model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert {key: d.queue for key, d in tickets.drafts.items()} == {
        "req-a": "auto",
        "req-h": "human",
    }


async def test_a_key_revoked_while_running_dead_letters_the_record_once_saying_why() -> None:
    answer = httpx.Response(401, json={"error": "unauthenticated", "detail": "x"})
    client = _client(httpx.MockTransport(lambda request: answer))
    service_app = build_app(TicketerSettings(), tickets=client)
    dlq = record_topic(service_app.broker, dead_letter_topic(KNOWLEDGE_RETRIEVED))
    event = _retrieved()
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event.model_dump_json().encode(), KNOWLEDGE_RETRIEVED)
    assert client.attempts_made == 1  # a configuration error is not retried
    assert dlq[0].headers["x-dlq-error-type"] == "HelpdeskKeyRefused"
    assert "TICKETER_HELPDESK_API_KEY_FILE" in dlq[0].headers["x-dlq-error-message"]
