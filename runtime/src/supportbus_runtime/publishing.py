"""Publishing an output or a dead letter until the broker acknowledges it.

A publish that fails (the broker is down, a leader moved) is retried in place, with backoff,
for as long as it takes: the record stays in flight, its partition's commit waits for it, and
once every slot is taken fetching stops. aiokafka bounds each attempt (its request timeout);
an outage is logged once when it starts, every 30 s while it lasts, and once when it ends.

Records go straight to the aiokafka producer that the FastStream broker connected (acks=all,
idempotent, with linger): FastStream's publish pipeline (a command object, middlewares,
codec) cost more CPU than the send itself. On FastStream's in-memory test broker there is no
such producer, and records go through ``broker.publish`` so its subscribers get them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber
from faststream.kafka import KafkaBroker
from prometheus_client import Counter

from supportbus_runtime.broker import EventRecord
from supportbus_runtime.outage import OutageLog
from supportbus_runtime.record_tracing import publishing

log = logging.getLogger(__name__)


class UntilAcknowledged:
    """One service's publishing of records it must not lose."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        service: str,
        retries: Counter,
        backoff_s: float,
        max_backoff_s: float,
        published: Counter | None = None,
    ) -> None:
        self._broker = broker
        self._published = published  # labelled service, topic
        self._published_to: dict[str, Counter] = {}
        self._service = service
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._outage = OutageLog(log, f"{service}: publishing")
        self._stopping = False

    async def send(self, record: EventRecord, *, topic: str) -> None:
        """Publish and wait for the acknowledgement, retrying with backoff until it comes."""
        headers = dict(record.headers)
        if record.correlation_id:
            headers["correlation_id"] = record.correlation_id
        with publishing(topic, headers):
            await self._send_until_acknowledged(record, topic, headers)
        if self._published is not None:
            counter = self._published_to.get(topic)
            if counter is None:
                counter = self._published.labels(service=self._service, topic=topic)
                self._published_to[topic] = counter
            counter.inc()

    async def _send_until_acknowledged(
        self, record: EventRecord, topic: str, headers: dict[str, str]
    ) -> None:
        backoff = self._backoff_s
        while True:
            try:
                await self._send_once(record, topic, headers)
            except OutOfOrderSequenceNumber as error:
                # aiokafka's idempotent producer never recovers from this (aio-libs/aiokafka
                # #1017: after a long broker outage it keeps sending stale sequence numbers).
                # Crash-only: stop gracefully (what is done commits), the supervisor restarts
                # us with a fresh producer, and the records in flight are redelivered.
                self._producer_broken(error)
                await asyncio.sleep(self._max_backoff_s)
            except (TimeoutError, KafkaError, OSError) as error:
                self._retries.inc()
                self._outage.failed(f"{topic}: {type(error).__name__}")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
            else:
                self._outage.succeeded()
                return

    async def _send_once(self, record: EventRecord, topic: str, headers: dict[str, str]) -> None:
        producer = connected_producer(self._broker)
        if producer is None:  # the in-memory test broker (or not connected yet)
            await self._broker.publish(
                record.value,
                topic=topic,
                key=record.key,
                headers=headers,
                correlation_id=record.correlation_id,
            )
            return
        acknowledged = await producer.send(
            topic,
            record.value,
            key=record.key,
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
        await acknowledged

    def _producer_broken(self, error: BaseException) -> None:
        if self._stopping:
            return
        self._stopping = True
        log.critical(
            "%s: the Kafka producer lost its idempotence state (%s); stopping so that a "
            "restart brings a fresh producer (in-flight records will be redelivered)",
            self._service,
            type(error).__name__,
        )
        os.kill(os.getpid(), signal.SIGTERM)


def connected_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The aiokafka producer a started FastStream broker publishes with, or None (the in-memory
    test broker's fake, or a broker not started). FastStream keeps it in private attributes
    (``config.producer._producer.producer`` in 0.7); tests on a real broker guard the path."""
    fast_producer: Any = getattr(getattr(broker, "config", None), "producer", None)
    producer = getattr(getattr(fast_producer, "_producer", None), "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None
