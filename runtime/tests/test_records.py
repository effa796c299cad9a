from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser

from supportbus_runtime.records import readable_headers_parser


def _record(headers: list[tuple[str, bytes | None]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t",
        partition=0,
        offset=5,
        timestamp=0,
        timestamp_type=0,
        key=b"req-1",
        value=b"{}",
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=2,
        headers=headers,
    )


def _faststream_parser() -> Any:
    return AioKafkaParser(msg_class=KafkaMessage, regex=None).parse_message


async def test_undecodable_and_null_header_values_no_longer_stop_the_record() -> None:
    record = _record(
        [
            ("content-type", b"\xff\xfe"),
            ("correlation_id", b"\x80abc"),
            ("x-empty", None),
            ("x-fine", b"caf\xc3\xa9"),
        ]
    )
    message = await readable_headers_parser(record, _faststream_parser())
    assert message.headers == {
        "content-type": "\ufffd\ufffd",
        "correlation_id": "\ufffdabc",
        "x-empty": "",
        "x-fine": "café",
    }
    assert message.raw_message is record  # the record as fetched, bytes untouched
    assert record.headers[0] == ("content-type", b"\xff\xfe")
    assert message.body == b"{}"


async def test_a_repeated_header_reads_as_its_last_value() -> None:
    record = _record([("content-type", b"application/json"), ("content-type", b"text/plain")])
    message = await readable_headers_parser(record, _faststream_parser())
    assert message.headers == {"content-type": "text/plain"}
    assert message.raw_message is record
