"""The record behind a FastStream message, and its bytes left undecoded."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

RecordParser = Callable[[ConsumerRecord[Any, Any]], Awaitable[StreamMessage[Any]]]


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


async def readable_headers_parser(
    record: ConsumerRecord[Any, Any], original: RecordParser
) -> StreamMessage[Any]:
    """FastStream parser (broker-wide) that lets every record through whatever its headers.

    FastStream's own parser decodes each header value as strict UTF-8, so a record from another
    producer with a header value that is not UTF-8, or a null one (Kafka header values are
    nullable), raised before our handler: nobody dead-lettered it, the consumer moved on, and
    the record was lost. Here such values are read with replacement characters (a null one as
    empty), so the record reaches the delivery policy like any other; the message's
    ``raw_message`` stays the record as fetched, its header bytes untouched."""
    if all(_is_utf8(value) for _, value in record.headers):
        return await original(record)  # the common case: nothing to mend
    readable = dataclasses.replace(record, headers=readable_headers(record.headers))
    if hasattr(record, "consumer"):  # FastStream's in-memory broker attaches its consumer
        readable.consumer = record.consumer
    message = await original(readable)
    message.raw_message = record
    return message


def readable_headers(headers: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """The headers with every value valid UTF-8: undecodable bytes as U+FFFD, null as empty."""
    return [(name, _readable(value)) for name, value in headers]


def _readable(value: bytes | None) -> bytes:
    if value is None:
        return b""
    if _is_utf8(value):
        return value
    return value.decode("utf-8", errors="replace").encode("utf-8")


def _is_utf8(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
