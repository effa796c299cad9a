"""What an agent's own tests need of a real broker, written once for every agent (workspace or
standalone): a broker to test against, events published as a producer would, and the events an
agent wrote, read back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from supportbus_contracts.envelope import Event
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig
from supportbus_devtools.topicreader import read_topics
from supportbus_runtime.broker import build_broker
from supportbus_runtime.settings import ServiceSettings

__all__ = ["kafka_for_tests", "publish_events", "read_events"]

E = TypeVar("E", bound=BaseModel)


@contextmanager
def kafka_for_tests(data_dir: Path) -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS if set, otherwise a local KRaft broker in ``data_dir`` (stopped
    on exit): its bootstrap servers."""
    if external := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield external
        return
    kafka = LocalKafka(LocalKafkaConfig(data_dir=data_dir, port=0))
    kafka.start()
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


async def publish_events(settings: ServiceSettings, topic: str, *events: Event) -> None:
    """Each event to ``settings.topic(topic)``, keyed by its request id, as a producer would."""
    broker = build_broker(settings, client_id="test")
    await broker.connect()
    try:
        for event in events:
            await broker.publish(
                event.model_dump_json().encode(),
                topic=settings.topic(topic),
                key=event.request_id.encode(),
            )
    finally:
        await broker.stop()


async def read_events(
    settings: ServiceSettings,
    topic: str,
    event_type: type[E],
    *,
    done: Callable[[list[E]], bool] = bool,
    timeout_s: float = 60,
) -> list[E]:
    """The events on ``settings.topic(topic)``, read again from the start until ``done`` says
    they are all there or ``timeout_s`` passes (then whatever is there)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = [
            r
            async for r in read_topics(
                settings.kafka_bootstrap_servers, [settings.topic(topic)], idle_timeout_s=0.5
            )
        ]
        events = [event_type.model_validate_json(r.value or b"") for r in records]
        if done(events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.5)
