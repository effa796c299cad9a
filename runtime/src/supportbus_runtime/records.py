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


async def message_itself(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """FastStream decoder that hands the handler the message itself, bytes untouched.

    Two reasons: FastStream's own JSON decoding fails before our handler on a malformed record
    whose content-type says JSON (the record would be skipped, not dead-lettered), and with the
    message as the "body" the handler needs no dependency injection, whose context lookup runs
    in a worker thread per record (brokers are built with ``apply_types=False``)."""
    return message
