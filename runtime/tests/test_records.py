from __future__ import annotations

from typing import Any

from faststream.kafka.message import KafkaMessage
from faststream.kafka.parser import AioKafkaParser

from supportbus_devtools.testing import consumer_record
from supportbus_runtime.records import headers_as_text, readable_headers_parser, records_of


def _faststream_parser() -> Any:
    return AioKafkaParser(msg_class=KafkaMessage, regex=None).parse_message


async def test_undecodable_and_null_header_values_no_longer_stop_theconsumer_record() -> None:
    record = consumer_record(
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
    record = consumer_record(
        [("content-type", b"application/json"), ("content-type", b"text/plain")]
    )
    message = await readable_headers_parser(record, _faststream_parser())
    assert message.headers == {"content-type": "text/plain"}
    assert message.raw_message is record


async def test_a_batch_with_an_undecodable_header_is_handed_over_whole_and_unparsed() -> None:
    good, bad = (
        consumer_record([("content-type", b"application/json")]),
        consumer_record([("x", b"\xff")]),
    )
    batch = (good, bad)

    async def original_must_not_run(_: Any) -> Any:
        raise AssertionError("FastStream's batch parser decodes every header strictly")

    message = await readable_headers_parser(batch, original_must_not_run)
    assert records_of(message) == batch  # every record reaches the delivery policy
    assert message.body == [b"{}", b"{}"]  # what FastStream's batch metrics measure


def test_a_records_headers_read_as_text_whatever_their_bytes() -> None:
    headers = [("a", b"\xff"), ("b", None), ("c", b"x"), ("c", b"y")]
    assert headers_as_text(headers) == {"a": "\ufffd", "b": "", "c": "y"}
