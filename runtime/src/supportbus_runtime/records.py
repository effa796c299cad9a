"""The record behind a FastStream message, and its bytes left undecoded."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage


def single_record(message: KafkaMessage) -> ConsumerRecord[Any, Any]:
    """The record behind a message (our subscribers are never batch subscribers)."""
    record = message.raw_message
    if isinstance(record, tuple):
        raise TypeError("batch messages are not supported by the delivery policy")
    return record


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """FastStream decoder that leaves the bytes alone: we decode and validate ourselves, so a
    malformed record whatever its content-type reaches our dead-letter step."""
    return message.body
