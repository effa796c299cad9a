"""The shared delivery policy on FastStream's in-memory broker (real broker: tests/integration)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from faststream.kafka import KafkaBroker, TestKafkaBroker

from supportbus_contracts import RequestClassified, RequestReceived, SupportRequest
from supportbus_devtools.testing import classified, record_topic
from supportbus_runtime.declaration import Publication
from supportbus_runtime.delivery import DeliveryPolicy, EventConsumer
from supportbus_runtime.errors import PermanentError, TransientError

IN, OUT = "in.v1", "out.v1"
FAST = DeliveryPolicy(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=0.01)


def _event(request_id: str = "req-1", body: str = "My card was stolen") -> RequestReceived:
    return RequestReceived(
        request_id=request_id, request=SupportRequest(channel="chat", customer_id="c1", body=body)
    )


def _classified(event: RequestReceived) -> RequestClassified:
    return classified(event, intent="lost_or_stolen_card", priority="urgent")


class FlakyHandler:
    def __init__(self, failures: int, error: type[Exception] = TransientError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self, event: RequestReceived) -> Sequence[Publication]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("helpdesk timed out for alice@example.com")
        return [Publication(OUT, _classified(event))]


def _consumer(broker: KafkaBroker, handler: FlakyHandler) -> EventConsumer[RequestReceived]:
    consumer = EventConsumer(
        service="svc",
        topic=IN,
        event_type=RequestReceived,
        handler=handler,
        broker=broker,
        policy=FAST,
    )
    consumer.subscribe(group_id="svc")
    return consumer


async def test_transient_failure_is_retried_then_succeeds() -> None:
    broker = KafkaBroker()
    handler = FlakyHandler(failures=2)
    consumer = _consumer(broker, handler)
    out, dlq = record_topic(broker, OUT), record_topic(broker, IN + ".dlq")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(_event().model_dump_json().encode(), IN)
    assert handler.calls == 3
    assert len(out) == 1
    assert dlq == []
    assert _metric(consumer, "supportbus_retries_total") == 2
    assert _metric(consumer, "supportbus_messages_handled_total") == 1


def _metric(consumer: EventConsumer[RequestReceived], name: str, **labels: str) -> float:
    value = consumer.metrics.registry.get_sample_value(
        name, {"service": "svc", "topic": IN, **labels}
    )
    return value or 0.0


async def test_transient_failure_that_persists_is_dead_lettered_after_all_attempts() -> None:
    broker = KafkaBroker()
    handler = FlakyHandler(failures=99)
    consumer = _consumer(broker, handler)
    out, dlq = record_topic(broker, OUT), record_topic(broker, IN + ".dlq")
    original = _event().model_dump_json().encode()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(original, IN, headers={"x-origin": "web"})
    assert handler.calls == FAST.max_attempts
    assert out == []
    assert len(dlq) == 1
    assert dlq[0].body == original
    assert dlq[0].headers["x-dlq-error-type"] == "TransientError"
    assert dlq[0].headers["x-dlq-attempts"] == "3"
    assert dlq[0].headers["x-dlq-service"] == "svc"
    assert dlq[0].headers["x-dlq-original-topic"] == IN
    assert dlq[0].headers["x-origin"] == "web"
    assert _metric(consumer, "supportbus_dead_letters_total", error_type="TransientError") == 1


async def test_permanent_failure_is_dead_lettered_without_retry() -> None:
    broker = KafkaBroker()
    handler = FlakyHandler(failures=1, error=PermanentError)
    _consumer(broker, handler)
    dlq = record_topic(broker, IN + ".dlq")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(_event().model_dump_json().encode(), IN)
    assert handler.calls == 1
    assert dlq[0].headers["x-dlq-error-type"] == "PermanentError"


async def test_unexpected_bug_is_dead_lettered_and_consumer_keeps_going() -> None:
    broker = KafkaBroker()
    handler = FlakyHandler(failures=1, error=KeyError)
    _consumer(broker, handler)
    out, dlq = record_topic(broker, OUT), record_topic(broker, IN + ".dlq")
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(_event("req-1").model_dump_json().encode(), IN)
        await test_broker.publish(_event("req-2").model_dump_json().encode(), IN)
    assert [m.headers["x-dlq-error-type"] for m in dlq] == ["KeyError"]
    assert [RequestClassified.model_validate_json(m.body).request_id for m in out] == ["req-2"]


async def test_bad_records_are_dead_lettered_with_clear_reasons() -> None:
    broker = KafkaBroker()
    _consumer(broker, FlakyHandler(failures=0))
    dlq = record_topic(broker, IN + ".dlq")
    huge_payload = _event().model_dump(mode="json")
    huge_payload["request"]["body"] = "x" * 2_000_000
    huge = json.dumps(huge_payload).encode()
    async with TestKafkaBroker(broker) as test_broker:
        for raw in (b"{not json", b"\xff\xfe\x00", b'{"request_id": "r"}', huge):
            await test_broker.publish(raw, IN)
    reasons = {m.headers["x-dlq-error-type"]: m.headers["x-dlq-error-message"] for m in dlq}
    assert set(reasons) == {
        "MalformedJson",
        "InvalidEncoding",
        "SchemaValidationError",
        "MessageTooLarge",
    }
    assert "exceeds the 1,048,576-byte limit" in reasons["MessageTooLarge"]
    assert "request: Field required" in reasons["SchemaValidationError"]


async def test_dead_letter_reason_never_quotes_the_customer_text() -> None:
    broker = KafkaBroker()
    _consumer(broker, FlakyHandler(failures=0))
    dlq = record_topic(broker, IN + ".dlq")
    payload = _event(body="x").model_dump(mode="json")
    payload["request"]["body"] = "secret-text " * 3000  # over the 20,000-character limit
    payload["request"]["email"] = "not an email secret-text"

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(json.dumps(payload).encode(), IN)
    reason = dlq[0].headers["x-dlq-error-message"]
    assert "request.body" in reason
    assert "secret-text" not in reason
