"""Test helpers: a deterministic embedder that needs no model files, a topic recorder for
TestKafkaBroker, a stock classification step, and a process-liveness check."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from numpy.typing import NDArray

from supportbus_contracts.events import (
    Classification,
    Priority,
    RequestClassified,
    RequestReceived,
)
from supportbus_runtime.records import message_itself, single_record

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag of hashed words: texts sharing words get similar vectors. Stands in for MiniLM."""

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.calls = 0

    @property
    def name(self) -> str:
        return f"hashing-{self.dimension}"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls += 1
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                matrix[row, bucket % self.dimension] += 1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        normalised: NDArray[np.float32] = matrix / np.maximum(norms, 1e-12)
        return normalised


@dataclass
class RecordedMessage:
    body: bytes
    headers: dict[str, str]
    key: bytes | None


def record_topic(broker: KafkaBroker, topic: str) -> list[RecordedMessage]:
    """Subscribe a recorder to ``topic`` (before the test broker starts); returns its list."""
    received: list[RecordedMessage] = []

    async def _record(body: Any) -> None:
        message: KafkaMessage = body  # message_itself hands over the message, not its body
        received.append(
            RecordedMessage(message.body, dict(message.headers), single_record(message).key)
        )

    broker.subscriber(
        topic, group_id=f"recorder-{topic}", auto_offset_reset="earliest", decoder=message_itself
    )(_record)
    return received


def classification(
    intent: str = "card_arrival", *, confidence: float = 0.9, priority: Priority = "normal"
) -> Classification:
    """A valid classification of the ``cards`` category, for tests that need one."""
    return Classification(
        category="cards",
        intent=intent,
        priority=priority,
        confidence=confidence,
        summary="s",
        model="m",
    )


def classified(
    event: RequestReceived, *, producer: str = "test", intent: str = "card_arrival",
    priority: Priority = "normal",
) -> RequestClassified:
    """What a classifier would publish for ``event``: a fixed, valid classification, for tests
    whose handlers only need some RequestClassified derived from their input."""
    return RequestClassified.derived_from(
        event,
        producer=producer,
        request=event.request,
        classification=classification(intent, priority=priority),
    )


def consumer_record(
    headers: Sequence[tuple[str, bytes | None]] = (),
    *,
    topic: str = "t",
    partition: int = 0,
    offset: int = 5,
    key: bytes = b"req-1",
    value: bytes = b"{}",
) -> ConsumerRecord[bytes, bytes]:
    """A record as aiokafka hands it over, for tests of what reads records."""
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=list(headers),
    )


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` exists any more (signal 0 only checks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
