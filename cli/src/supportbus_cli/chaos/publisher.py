"""The chaos run's producer: requests at a steady rate, each one retried until the broker
acknowledges it, so whatever goes missing was lost by the system, never by the input.

A request that is retried after an ambiguous failure (a timeout while the broker died) may be
written twice; it is the very same event (same ``event_id``, same bytes), which the pipeline
must treat as the redelivery it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from supportbus_contracts import RequestReceived
from supportbus_runtime.broker import PRODUCER_MAX_REQUEST_BYTES, EventRecord

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 2.0


@dataclass
class PublishLog:
    """When each request was first handed over, and when the broker acknowledged it."""

    sent_at: dict[str, float] = field(default_factory=dict)
    acked_at: dict[str, float] = field(default_factory=dict)
    retries: int = 0

    @property
    def acknowledged(self) -> int:
        return len(self.acked_at)


async def start_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="supportbus-chaos",
        acks="all",
        # Not idempotent: aiokafka's idempotent producer is left unusable by a broker outage
        # longer than its request timeout (OutOfOrderSequenceNumber from then on, aio-libs/
        # aiokafka#1017), and we retry ourselves anyway; a request written twice is the same
        # event twice, a redelivery the pipeline must absorb.
        enable_idempotence=False,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        linger_ms=2,
        # Fail a send within seconds while the broker is away, so we retry it ourselves.
        request_timeout_ms=5000,
    )
    await producer.start()
    return producer


async def _publish_until_acknowledged(
    producer: AIOKafkaProducer,
    topic: str,
    event: RequestReceived,
    published: PublishLog,
    deadline: float,
) -> None:
    record = EventRecord.of(event)
    headers = [(k, v.encode()) for k, v in record.headers.items()]
    backoff = 0.1
    while True:
        try:
            future = await producer.send(topic, record.value, key=record.key, headers=headers)
            await future
        except (KafkaError, OSError, TimeoutError) as error:
            if time.monotonic() > deadline:
                log.error("gave up publishing %s: %s", event.request_id, error)
                return
            published.retries += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)
        else:
            published.acked_at[event.request_id] = time.time()
            return


async def publish_steadily(
    producer: AIOKafkaProducer,
    topic: str,
    events: Sequence[RequestReceived],
    rate: float,
    publish_log: PublishLog,
    *,
    give_up_after_s: float,
) -> None:
    """Open loop: request i is handed over at start + i/rate, whatever became of the earlier
    ones; returns once every request is acknowledged (or ``give_up_after_s`` has passed)."""
    start = time.monotonic()
    deadline = start + give_up_after_s
    tasks: list[asyncio.Task[None]] = []
    for n, event in enumerate(events):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        publish_log.sent_at[event.request_id] = time.time()
        tasks.append(
            asyncio.create_task(
                _publish_until_acknowledged(producer, topic, event, publish_log, deadline)
            )
        )
    await asyncio.gather(*tasks)
