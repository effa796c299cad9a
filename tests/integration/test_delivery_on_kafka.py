"""The shared delivery policy and the operator tools against a real Kafka broker (in-process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from supportbus_cli.collect import collect_responses
from supportbus_cli.dlq import list_dead_letters, redrive
from supportbus_cli.settings import CliSettings
from supportbus_contracts import (
    Article,
    Classification,
    SupportRequest,
    Ticket,
    TicketCreated,
)
from supportbus_contracts.topics import RESPONSE_READY, TICKET_CREATED
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.topicreader import read_topics
from supportbus_responder.app import build_app
from supportbus_responder.settings import ResponderSettings
from supportbus_runtime.broker import build_broker, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _ticket_created(request_id: str) -> TicketCreated:
    return TicketCreated(
        request_id=request_id,
        request=SupportRequest(channel="chat", customer_id="c1", body="Where is my card?"),
        classification=Classification(
            category="cards",
            intent="card_arrival",
            priority="normal",
            confidence=0.8,
            summary="Card late",
            model="m",
        ),
        articles=[
            Article(
                article_id="kb-card-delivery", title="Card delivery", snippet="3-5 days", score=0.7
            )
        ],
        ticket=Ticket(ticket_id=f"TCK-{request_id}", url=f"http://h/{request_id}", status="open"),
    )


@asynccontextmanager
async def _responder(bootstrap: str, prefix: str) -> AsyncIterator[None]:
    settings = ResponderSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    service_app = build_app(settings)
    await ensure_topics(bootstrap, pipeline_topics(prefix), partitions=settings.topic_partitions)
    await service_app.app.start()
    try:
        yield
    finally:
        await service_app.app.stop()  # drains in-flight records and commits, then stops


async def _publish(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    broker = build_broker(CliSettings(kafka_bootstrap_servers=bootstrap), client_id="test")
    await broker.connect()
    try:
        for key, value in values:
            await broker.publish(value, topic=topic, key=key)
    finally:
        await broker.stop()


async def _count(bootstrap: str, topic: str) -> int:
    return len([r async for r in read_topics(bootstrap, [topic], idle_timeout_s=1.0)])


async def test_restarted_consumer_resumes_after_its_last_committed_record(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + TICKET_CREATED
    first = [f"a{n}" for n in range(5)]
    second = [f"b{n}" for n in range(3)]
    async with _responder(kafka_bootstrap, topic_prefix):
        await _publish(
            kafka_bootstrap,
            topic,
            [(r.encode(), _ticket_created(r).model_dump_json().encode()) for r in first],
        )
        found = await collect_responses(
            kafka_bootstrap, first, topic_prefix=topic_prefix, timeout_s=60
        )
        assert set(found) == set(first)
    await _publish(
        kafka_bootstrap,
        topic,
        [(r.encode(), _ticket_created(r).model_dump_json().encode()) for r in second],
    )
    async with _responder(kafka_bootstrap, topic_prefix):
        found = await collect_responses(
            kafka_bootstrap, first + second, topic_prefix=topic_prefix, timeout_s=60
        )
    assert set(found) == set(first + second)
    # Committed offsets were exact: the second instance did not handle the first five again.
    assert await _count(kafka_bootstrap, topic_prefix + RESPONSE_READY) == 8


async def test_dead_letter_is_listed_and_redriven_once(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + TICKET_CREATED
    settings = CliSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    broken = b'{"request_id": "r-broken", "request": "not an object"}'
    async with _responder(kafka_bootstrap, topic_prefix):
        await _publish(
            kafka_bootstrap,
            topic,
            [(b"r-broken", broken), (b"r-ok", _ticket_created("r-ok").model_dump_json().encode())],
        )
        assert set(
            await collect_responses(
                kafka_bootstrap, ["r-ok"], topic_prefix=topic_prefix, timeout_s=60
            )
        ) == {"r-ok"}
        letters = await _wait_for_letters(settings, 1)
        assert letters[0].value == broken
        assert letters[0].key == b"r-broken"
        assert letters[0].error_type == "SchemaValidationError"
        assert letters[0].service == "responder"
        assert letters[0].original_topic == topic
        # Redrive sends it back; it fails again and returns as a second dead letter.
        assert await redrive(settings) == 1
        letters = await _wait_for_letters(settings, 2)
        # The first letter was redriven already: only the new one goes back this time.
        assert await redrive(settings) == 1
        await _wait_for_letters(settings, 3)
    assert await _count(kafka_bootstrap, topic) == 4  # broken, ok, and two redriven copies


async def _wait_for_letters(settings: CliSettings, count: int) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + 60
    while True:
        letters = await list_dead_letters(settings)
        if len(letters) >= count or time.monotonic() > deadline:
            assert len(letters) == count
            return letters
        await asyncio.sleep(0.5)
