"""At-least-once delivery, written once for every service.

For each record: decode and validate -> handle (retrying transient failures with backoff) ->
publish the output events and wait for the broker's acknowledgement -> commit exactly this
record's offset. A record that cannot be decoded, or whose handling fails permanently or keeps
failing, goes to the dead-letter topic instead, and its offset is committed only once the dead
letter is acknowledged. Nothing is committed ahead of its outcome, so a crash at any point means
redelivery, never loss; handlers are idempotent so redelivery is harmless.

Why not FastStream's ack policies: on Kafka, REJECT_ON_ERROR commits like ACK, and ``ack()``
calls aiokafka's ``commit()`` without offsets, which commits every fetched position. We subscribe
with ``AckPolicy.MANUAL`` and commit explicit offsets ourselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from supportbus_contracts.envelope import Event
from supportbus_contracts.topics import dead_letter_topic
from supportbus_runtime.broker import PRODUCER_MAX_REQUEST_BYTES, EventRecord
from supportbus_runtime.deadletters import TRUNCATED_HEADER, dead_letter_headers
from supportbus_runtime.decoding import decode_event
from supportbus_runtime.errors import MessageRejected, TransientError
from supportbus_runtime.logs import current_request_id
from supportbus_runtime.metrics import DeliveryMetrics
from supportbus_runtime.telemetry import set_request_id

log = logging.getLogger(__name__)

_MAX_DEAD_LETTER_BYTES = PRODUCER_MAX_REQUEST_BYTES - 64 * 1024

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Publication:
    """An output event and the topic it goes to."""

    topic: str
    event: Event


Handler = Callable[[E], Awaitable[Sequence[Publication]]]


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    max_message_bytes: int = 1_048_576
    # How long to wait before a record whose output could not be published is fetched again.
    redelivery_pause_s: float = 1.0


class EventConsumer(Generic[E]):
    """Consumes one topic for one service with the delivery guarantees described above."""

    def __init__(
        self,
        *,
        service: str,
        topic: str,
        event_type: type[E],
        handler: Handler[E],
        broker: KafkaBroker,
        policy: DeliveryPolicy,
        topic_prefix: str = "",
        metrics: DeliveryMetrics | None = None,
    ) -> None:
        self.service = service
        self._topic_prefix = topic_prefix
        self.topic = topic
        self.event_type = event_type
        self._handler = handler
        self._broker = broker
        self._policy = policy
        self.metrics = metrics or DeliveryMetrics()
        self._labels = {"service": service, "topic": topic}

    def subscribe(self, *, group_id: str) -> None:
        subscriber = self._broker.subscriber(
            self.topic,
            group_id=group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            # Fetch records up to twice the size we accept, so oversized ones reach us and are
            # dead-lettered with a reason instead of stalling the partition.
            max_partition_fetch_bytes=PRODUCER_MAX_REQUEST_BYTES,
        )
        subscriber(self.on_message)

    async def on_message(self, message: KafkaMessage) -> None:
        record = single_record(message)
        self._observe_lag(message, record)
        key = (record.key or b"").decode("utf-8", errors="replace")
        token = current_request_id.set(key)
        set_request_id(key)  # the key is the request_id, even when the value is unreadable
        try:
            with self.metrics.handler_seconds.labels(**self._labels).time():
                await self._deliver(message)
        finally:
            current_request_id.reset(token)

    async def _deliver(self, message: KafkaMessage) -> None:
        try:
            event = decode_event(self.event_type, message.body, self._policy.max_message_bytes)
            publications = await self._handle_with_retries(event)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.metrics.failed.labels(**self._labels, error_type=_describe(error)[0]).inc()
            if not await self._dead_letter(message, error):
                return
        else:
            if not await self._publish_all(message, publications):
                return
            self.metrics.handled.labels(**self._labels).inc()
        await self._commit(message)

    def _observe_lag(self, message: KafkaMessage, record: ConsumerRecord[Any, Any]) -> None:
        consumer = message.consumer
        if isinstance(consumer, AIOKafkaConsumer):
            highwater = consumer.highwater(TopicPartition(record.topic, record.partition))
            if highwater is not None:
                self.metrics.consumer_lag.labels(
                    **self._labels, partition=str(record.partition)
                ).set(max(highwater - record.offset - 1, 0))

    async def _handle_with_retries(self, event: E) -> Sequence[Publication]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._policy.max_attempts),
            wait=wait_exponential_jitter(
                multiplier=self._policy.initial_backoff_s,
                max=self._policy.max_backoff_s,
                jitter=self._policy.initial_backoff_s,
            ),
            retry=retry_if_exception_type(TransientError),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            return await retrying(self._handler, event)
        except RetryError as error:  # pragma: no cover - reraise=True makes this unreachable
            raise error.last_attempt.exception() or error from error

    def _count_retry(self, state: Any) -> None:
        self.metrics.retries.labels(**self._labels).inc()
        log.warning(
            "%s: transient failure (attempt %d of %d), retrying: %s",
            self.service,
            state.attempt_number,
            self._policy.max_attempts,
            type(state.outcome.exception()).__name__,
        )

    async def _publish_all(
        self, message: KafkaMessage, publications: Sequence[Publication]
    ) -> bool:
        for publication in publications:
            record = EventRecord.of(publication.event)
            ok = await self._send(
                message,
                record.value,
                topic=self._topic_prefix + publication.topic,
                key=record.key,
                headers=record.headers,
                correlation_id=record.correlation_id,
            )
            if not ok:
                return False
        return True

    async def _dead_letter(self, message: KafkaMessage, error: BaseException) -> bool:
        record = single_record(message)
        error_type, reason = _describe(error)
        attempts = self._policy.max_attempts if isinstance(error, TransientError) else 1
        headers = dead_letter_headers(
            original=message.headers,
            service=self.service,
            error_type=error_type,
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
        )
        log.error(
            "%s: dead-lettering %s[%d]@%d: %s: %s",
            self.service,
            record.topic,
            record.partition,
            record.offset,
            error_type,
            reason,
        )
        body = message.body
        if len(body) > _MAX_DEAD_LETTER_BYTES:
            # Beyond what any producer of ours can write: keep the head, say how much was cut,
            # rather than block the partition on a record that can never be dead-lettered whole.
            headers[TRUNCATED_HEADER] = str(len(body))
            body = body[:_MAX_DEAD_LETTER_BYTES]
        ok = await self._send(
            message,
            body,
            topic=dead_letter_topic(self.topic),
            key=record.key,
            headers=headers,
            correlation_id=None,
        )
        if ok:
            self.metrics.dead_letters.labels(**self._labels, error_type=error_type).inc()
        return ok

    async def _send(
        self,
        message: KafkaMessage,
        body: bytes,
        *,
        topic: str,
        key: bytes | None,
        headers: dict[str, str],
        correlation_id: str | None,
    ) -> bool:
        """Publish and wait for the acknowledgement; on failure, rewind so the record comes back."""
        try:
            await self._broker.publish(
                body, topic=topic, key=key, headers=headers, correlation_id=correlation_id
            )
            return True
        except (TimeoutError, KafkaError, OSError) as error:
            self.metrics.redeliveries.labels(**self._labels).inc()
            log.error(
                "%s: could not publish to %s (%s); the record will be redelivered",
                self.service,
                topic,
                type(error).__name__,
            )
            await message.nack()  # seeks back to this record: it is fetched again
            await asyncio.sleep(self._policy.redelivery_pause_s)
            return False

    async def _commit(self, message: KafkaMessage) -> None:
        """Commit exactly this record's offset (never "every fetched position")."""
        record = single_record(message)
        consumer = message.consumer
        try:
            if isinstance(consumer, AIOKafkaConsumer):
                partition = TopicPartition(record.topic, record.partition)
                await consumer.commit({partition: record.offset + 1})
            else:  # FastStream's in-memory test broker has nothing to commit to
                await message.ack()
        except KafkaError as error:
            # Typically a rebalance moved the partition away while we worked: its new owner
            # will get this record again, and the handlers are idempotent.
            log.warning(
                "%s: commit of %s[%d]@%d failed (%s); it will be redelivered",
                self.service,
                record.topic,
                record.partition,
                record.offset,
                type(error).__name__,
            )


def single_record(message: KafkaMessage) -> ConsumerRecord[Any, Any]:
    """The record behind a message (our subscribers are never batch subscribers)."""
    record = message.raw_message
    if isinstance(record, tuple):
        raise TypeError("batch messages are not supported by the delivery policy")
    return record


def _describe(error: BaseException) -> tuple[str, str]:
    """A type name and a reason fit for logs and dead-letter headers: never the payload."""
    if isinstance(error, MessageRejected):
        return error.error_type, error.reason
    text = str(error) or error.__class__.__doc__ or ""
    return type(error).__name__, " ".join(text.split())[:1000]
