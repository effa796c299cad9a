"""The records behind a FastStream message, and their bytes left undecoded.

Service consumers subscribe as batch subscribers: FastStream fetches what aiokafka has buffered
(``getmany``) and runs its per-message pipeline (parser, middlewares, handler call) once per
batch rather than once per record, which was most of a hop's CPU. The records themselves go to
the delivery policy one by one (:func:`records_of`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import FAKE_CONSUMER
from faststream.kafka.message import KafkaMessage as KafkaMessageClass
from faststream.message import StreamMessage

RecordParser = Callable[[ConsumerRecord[Any, Any]], Awaitable[StreamMessage[Any]]]


def single_record(message: KafkaMessage) -> ConsumerRecord[Any, Any]:
    """The record behind a message of a (non-batch) subscriber."""
    record = message.raw_message
    if isinstance(record, tuple | list):
        raise TypeError("a batch message holds several records: use records_of")
    return record


def records_of(message: KafkaMessage) -> Sequence[ConsumerRecord[Any, Any]]:
    """The records behind a message, in fetch order: a batch subscriber's (a tuple from
    aiokafka's ``getmany``, a list of one on the in-memory test broker) or a single one."""
    raw = message.raw_message
    if isinstance(raw, tuple | list):
        return raw
    return (raw,)


async def message_itself(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """FastStream decoder that hands the handler the message itself, bytes untouched.

    Two reasons: FastStream's own JSON decoding fails before our handler on a malformed record
    whose content-type says JSON (the record would be skipped, not dead-lettered), and with the
    message as the "body" the handler needs no dependency injection, whose context lookup runs
    in a worker thread per record (brokers are built with ``apply_types=False``)."""
    return message


async def readable_headers_parser(
    record: ConsumerRecord[Any, Any] | Sequence[ConsumerRecord[Any, Any]], original: RecordParser
) -> StreamMessage[Any]:
    """FastStream parser (broker-wide) that lets every record through whatever its headers.

    A batch is not parsed at all: FastStream's batch parser decodes every header of every record
    (strictly, so one bad header would fail the whole batch), and the delivery policy reads each
    record's own bytes anyway. The batch's message carries the records and their values only.

    FastStream's own parser decodes each header value as strict UTF-8, so a record from another
    producer with a header value that is not UTF-8, or a null one (Kafka header values are
    nullable), raised before our handler: nobody dead-lettered it, the consumer moved on, and
    the record was lost. Here such values are read with replacement characters (a null one as
    empty), so the record reaches the delivery policy like any other; the message's
    ``raw_message`` stays the record as fetched, its header bytes untouched."""
    if not isinstance(record, ConsumerRecord):  # a batch: aiokafka's tuple, the test broker's list
        return _batch_message(record)
    if all(_is_utf8(value) for _, value in record.headers):
        return await original(record)  # the common case: nothing to mend
    readable = dataclasses.replace(record, headers=readable_headers(record.headers))
    if hasattr(record, "consumer"):  # FastStream's in-memory broker attaches its consumer
        readable.consumer = record.consumer
    message = await original(readable)
    message.raw_message = record
    return message


def _batch_message(records: Sequence[ConsumerRecord[Any, Any]]) -> KafkaMessage:
    first, last = records[0], records[-1]
    return KafkaMessageClass(
        raw_message=records,  # a tuple, or the test broker's list
        body=[r.value or b"" for r in records],  # FastStream's metrics measure the batch's size
        message_id=f"{first.topic}-{first.partition}-{first.offset}-{last.offset}",
        correlation_id="",
        consumer=getattr(first, "consumer", FAKE_CONSUMER),
    )


def headers_as_text(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """A record's headers as text (undecodable bytes as U+FFFD, null as empty; a repeated
    header reads as its last value), as FastStream would have parsed them."""
    return {name: value.decode("utf-8") for name, value in readable_headers(headers)}


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
