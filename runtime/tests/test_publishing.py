from __future__ import annotations

import signal
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber
from prometheus_client import CollectorRegistry, Counter

from supportbus_runtime import publishing
from supportbus_runtime.broker import EventRecord
from supportbus_runtime.publishing import UntilAcknowledged


class _FlakyBroker:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = list(failures)
        self.published: list[str] = []

    async def publish(self, value: bytes, *, topic: str, **_: Any) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append(topic)


def _publisher(broker: _FlakyBroker) -> tuple[UntilAcknowledged, Counter]:
    retries = Counter("r", "r", registry=CollectorRegistry())
    sender = UntilAcknowledged(
        broker,  # type: ignore[arg-type]
        service="ticketer",
        retries=retries,
        backoff_s=0.001,
        max_backoff_s=0.002,
    )
    return sender, retries


RECORD = EventRecord(value=b"{}", key=b"k", headers={}, correlation_id=None)


async def test_a_publish_during_a_broker_outage_is_retried_until_acknowledged() -> None:
    broker = _FlakyBroker([KafkaConnectionError(), TimeoutError(), KafkaConnectionError()])
    sender, retries = _publisher(broker)
    await sender.send(RECORD, topic="out")
    assert broker.published == ["out"]
    assert retries._value.get() == 3


async def test_a_producer_that_lost_its_sequence_state_stops_the_process_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signals: list[int] = []
    monkeypatch.setattr(publishing.os, "kill", lambda pid, sig: signals.append(sig))
    broker = _FlakyBroker([OutOfOrderSequenceNumber(), OutOfOrderSequenceNumber()])
    sender, _ = _publisher(broker)
    await sender.send(RECORD, topic="out")  # the record stays in flight until it is published
    assert signals == [signal.SIGTERM]
    assert broker.published == ["out"]
