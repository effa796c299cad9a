"""Concurrent, key-ordered delivery on a real broker: order per key, bounded in-flight, exact
commits after a graceful stop, and the malformed records whose headers fooled FastStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from supportbus_cli.settings import CliSettings
from supportbus_contracts import RequestClassified, RequestReceived, SupportRequest
from supportbus_devtools.testing import classified
from supportbus_devtools.topicreader import read_topics, topic_partitions
from supportbus_runtime.app import ServiceApp, build_service_app
from supportbus_runtime.broker import build_broker, ensure_topics
from supportbus_runtime.declaration import Input, Output, Publication, ServiceDeclaration
from supportbus_runtime.publishing import connected_producer
from supportbus_runtime.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

IN, OUT = "concurrency.in.v1", "concurrency.out.v1"


@dataclass
class SlowHandler:
    """Takes a while per record (like an LLM call) and records order and concurrency."""

    delay_s: float = 0.05
    seen: dict[str, list[int]] = field(default_factory=dict)
    running: int = 0
    most_running: int = 0

    async def __call__(self, event: RequestReceived) -> Sequence[Publication]:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay_s)
            self.seen.setdefault(event.request_id, []).append(int(event.request.body))
        finally:
            self.running -= 1
        return [Publication(OUT, classified(event))]


def _settings(bootstrap: str, prefix: str, **overrides: object) -> ServiceSettings:
    return ServiceSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        topic_partitions=3,
        commit_interval_ms=200,
        **overrides,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def _service(settings: ServiceSettings, handler: SlowHandler) -> AsyncIterator[ServiceApp]:
    received = Input(IN, RequestReceived, outputs=(Output(OUT, RequestClassified),))
    service_app = build_service_app(
        ServiceDeclaration("slow", (received,)), settings, [received.handled_by(handler)]
    )
    await service_app.app.start()
    try:
        yield service_app
    finally:
        await service_app.app.stop()


Records = list[tuple[bytes, bytes, dict[str, str]]]


async def _publish(bootstrap: str, topic: str, records: Records) -> None:
    broker = build_broker(CliSettings(kafka_bootstrap_servers=bootstrap), client_id="test")
    await broker.connect()
    try:
        await asyncio.gather(
            *(broker.publish(v, topic=topic, key=k, headers=h) for k, v, h in records)
        )
    finally:
        await broker.stop()


def _requests(keys: int, per_key: int) -> Records:
    out: Records = []
    for seq in range(per_key):  # interleaved, so every partition holds many keys
        for k in range(keys):
            event = RequestReceived(
                request_id=f"req-{k}",
                request=SupportRequest(channel="chat", customer_id="c", body=str(seq)),
            )
            out.append((event.request_id.encode(), event.model_dump_json().encode(), {}))
    return out


async def _records(
    topic: str, bootstrap: str, count: int, timeout_s: float = 120
) -> list[ConsumerRecord[bytes, bytes]]:
    deadline = time.monotonic() + timeout_s
    while True:
        records = [r async for r in read_topics(bootstrap, [topic], idle_timeout_s=0.5)]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        await asyncio.sleep(0.5)


async def _wait_for(topic: str, bootstrap: str, count: int, timeout_s: float = 120) -> list[bytes]:
    return [r.value for r in await _records(topic, bootstrap, count, timeout_s)]


async def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        parts = await topic_partitions(bootstrap, [topic])
        return {tp.partition: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = await topic_partitions(bootstrap, [topic])
        ends = await consumer.end_offsets(parts)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def test_many_keys_run_concurrently_each_key_in_offset_order_and_commits_are_exact(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    await ensure_topics(kafka_bootstrap, [settings.topic(IN)], partitions=3)
    handler = SlowHandler()
    records = _requests(keys=30, per_key=8)
    async with _service(settings, handler):
        await _publish(kafka_bootstrap, settings.topic(IN), records)
        outputs = await _wait_for(settings.topic(OUT), kafka_bootstrap, len(records))
    assert len(outputs) == len(records)
    assert set(handler.seen) == {f"req-{k}" for k in range(30)}
    for request_id, sequence in handler.seen.items():
        assert sequence == list(range(8)), request_id  # one key: strictly in offset order
    assert handler.most_running > 3  # different keys really were in flight together
    # After the graceful stop every partition is committed up to its end: nothing redelivered.
    ends = await _end_offsets(kafka_bootstrap, settings.topic(IN))
    committed = await _committed(
        kafka_bootstrap, settings.effective_group_id("slow"), settings.topic(IN)
    )
    assert committed == ends


async def test_records_in_flight_never_exceed_max_in_flight(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix, max_in_flight=4)
    await ensure_topics(kafka_bootstrap, [settings.topic(IN)], partitions=3)
    handler = SlowHandler(delay_s=0.02)
    records = _requests(keys=40, per_key=2)
    async with _service(settings, handler) as service_app:
        await _publish(kafka_bootstrap, settings.topic(IN), records)
        outputs = await _wait_for(settings.topic(OUT), kafka_bootstrap, len(records))
        paused = service_app.metrics.registry.get_sample_value(
            "supportbus_paused_partitions", {"service": "slow", "topic": settings.topic(IN)}
        )
    assert len(outputs) == len(records)
    assert 1 < handler.most_running <= 4
    assert paused == 0  # drained: fetching resumed everywhere


async def test_outputs_go_straight_to_aiokafkas_producer_and_are_counted_per_topic(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    await ensure_topics(kafka_bootstrap, [settings.topic(IN)], partitions=3)
    records = _requests(keys=12, per_key=1)
    async with _service(settings, SlowHandler(delay_s=0)) as service_app:
        # The producer FastStream connected, reached through its private attributes: this
        # fails first if a FastStream upgrade moves it (outputs would then go the slow way).
        assert connected_producer(service_app.broker) is not None
        await _publish(kafka_bootstrap, settings.topic(IN), records)
        outputs = await _records(settings.topic(OUT), kafka_bootstrap, len(records))
        published = service_app.metrics.registry.get_sample_value(
            "supportbus_published_messages_total",
            {"service": "slow", "topic": settings.topic(OUT)},
        )
    assert len(outputs) == len(records)
    assert published == len(records)
    headers = dict(outputs[0].headers)
    assert headers["content-type"] == b"application/json"
    assert headers["event-type"] == b"support.request.classified"
    assert {r.key for r in outputs} == {k for k, _, _ in records}  # keyed by request_id


RawHeaders = list[tuple[str, bytes | None]]


async def _publish_raw(
    bootstrap: str, topic: str, key: bytes, value: bytes, headers: RawHeaders
) -> None:
    """Straight through aiokafka: FastStream's publish takes a dict of text headers, so it can
    neither repeat a header nor send bytes that are not UTF-8, as other producers can."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    "headers",
    [
        [("content-type", b"application/json")],
        [("content-type", b"text/plain")],
        [("content-type", b"application/octet-stream")],
        [("content-type", "\u0000garbage/\u00ff".encode())],
        [],
        [("content-type", b"application/json"), ("content-type", b"text/plain")],
        [("content-type", b"\xff\xfe")],
        [("content-type", b"application/json"), ("x-origin", b"\xff\xfeweb\x80")],
        [("correlation_id", b"\xff\xfe\xfd")],
        [("x-empty", None)],
    ],
    ids=[
        "json",
        "text",
        "binary",
        "garbage",
        "missing",
        "content-type-twice",
        "content-type-not-utf8",
        "other-header-not-utf8",
        "correlation-id-not-utf8",
        "null-header-value",
    ],
)
async def test_malformed_record_is_dead_lettered_whatever_its_headers(
    kafka_bootstrap: str, topic_prefix: str, headers: RawHeaders
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    await ensure_topics(kafka_bootstrap, [settings.topic(IN)], partitions=1)
    good = _requests(keys=1, per_key=1)[0]
    async with _service(settings, SlowHandler(delay_s=0)):
        await _publish_raw(kafka_bootstrap, settings.topic(IN), b"req-bad", b"{not json", headers)
        await _publish(kafka_bootstrap, settings.topic(IN), [good])
        letters = await _records(settings.topic(IN) + ".dlq", kafka_bootstrap, 1)
        outputs = await _wait_for(settings.topic(OUT), kafka_bootstrap, 1)
    assert [letter.value for letter in letters] == [b"{not json"]
    assert dict(letters[0].headers)["x-dlq-error-type"] == b"MalformedJson"
    # The original headers travel with the dead letter: a repeated one by its last value (as
    # Kafka clients read it), bytes that are not UTF-8 as text with replacement characters.
    expected = {name: (value or b"").decode("utf-8", errors="replace") for name, value in headers}
    kept = dict(letters[0].headers)
    assert {name: kept[name].decode() for name in expected} == expected
    assert len(outputs) == 1
    ends = await _end_offsets(kafka_bootstrap, settings.topic(IN))
    committed = await _committed(
        kafka_bootstrap, settings.effective_group_id("slow"), settings.topic(IN)
    )
    assert committed == ends == {0: 2}


async def test_valid_record_with_repeated_and_undecodable_headers_is_answered(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    await ensure_topics(kafka_bootstrap, [settings.topic(IN)], partitions=1)
    key, value, _ = _requests(keys=1, per_key=1)[0]
    headers: RawHeaders = [
        ("content-type", b"application/json"),
        ("content-type", b"text/plain"),
        ("correlation_id", b"\xff\xfe"),
        ("x-origin", b"\x80web"),
        ("x-empty", None),
    ]
    handler = SlowHandler(delay_s=0)
    async with _service(settings, handler):
        await _publish_raw(kafka_bootstrap, settings.topic(IN), key, value, headers)
        outputs = await _wait_for(settings.topic(OUT), kafka_bootstrap, 1)
    assert len(outputs) == 1
    assert RequestClassified.model_validate_json(outputs[0]).request_id == key.decode()
    assert handler.seen == {key.decode(): [0]}
    assert await _wait_for(settings.topic(IN) + ".dlq", kafka_bootstrap, 0, timeout_s=0) == []
    committed = await _committed(
        kafka_bootstrap, settings.effective_group_id("slow"), settings.topic(IN)
    )
    assert committed == {0: 1}
