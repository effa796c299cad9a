from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportbus_runtime.logs import RedactingFilter, redact
from supportbus_runtime.telemetry import REQUEST_ID_ATTRIBUTE, build_tracer_provider


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+x@example.co.uk now", "mail me at [email] now"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("card 4111-1111-1111-1111.", "card [card]."),
        ("paid with 4111111111111111", "paid with [card]"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [iban] please"),
        ("iban=DE89370400440532013000", "iban=[iban]"),
        ("call +44 20 7946 0958 today", "call [phone] today"),
        ("call (555) 123-4567.", "call [phone]."),
        ("my mobile is 07700 900123", "my mobile is [phone]"),
        ("or 07700900123, or +1-555-123-4567", "or [phone], or [phone]"),
        ("ring +44 (0)20 7946 0958", "ring [phone]"),
        ("number:07700900123", "number:[phone]"),
    ],
)
def test_pii_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "consumer aiokafka-0.14.0-3f2a9c1e-8b7d-4e6f-9a01-234567890123 joined",
        "event 12345678-1234-1234-1234-123456789012 (all-digit groups)",
        "event_id=123e4567-e89b-12d3-a456-426614174000",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "failed at 2026-03-01T09:30:00.123456+00:00",
        "at 2026-03-01 09:30:00,123",
        "dead-lettering support.request.received.v1[3]@1234567: MalformedJson",
        "t1a2b3c4d.concurrency.in.v1[0]@123456789",
        "took 1234.567890 s, p99 12.5 ms",
        "record of 1,048,576 bytes exceeds the 1048576-byte limit",
        "handled 123456 records in 8 batches",
        "broker 127.0.0.1:60249, kafka 4.1.1",
        "ticket TCK-AB12CDEF1234 opened",  # upper-case hex that looks like an IBAN
        "order 1234567812345678 shipped",  # fails Luhn
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ],
)
def test_identifiers_timestamps_offsets_and_counts_are_left_intact(text: str) -> None:
    assert redact(text) == text


@given(st.uuids())
def test_a_uuid_is_never_changed(value: uuid.UUID) -> None:
    assert redact(str(value)) == str(value)
    assert redact(f"aiokafka-0.14.0-{value}") == f"aiokafka-0.14.0-{value}"
    assert redact(f"event {value}.") == f"event {value}."


# From 10 bytes (trace ids are 16, UUIDs' hex 16) a hex id has more digits than any card or
# phone number even when every one of its characters is a digit; a 16-digit one is a card.
@given(st.binary(min_size=10, max_size=32))
def test_a_hex_id_is_never_changed(raw: bytes) -> None:
    assert redact(raw.hex()) == raw.hex()
    assert redact(f"trace_id={raw.hex()}") == f"trace_id={raw.hex()}"


@given(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=10**15))
def test_a_kafka_position_is_never_changed(partition: int, offset: int) -> None:
    text = f"support.ticket.created.v1[{partition}]@{offset}"
    assert redact(text) == text


@given(st.uuids(), st.sampled_from(["+44 20 7946 0958", "(555) 123-4567", "07700 900123"]))
def test_a_phone_number_beside_an_id_is_still_redacted(value: uuid.UUID, phone: str) -> None:
    assert redact(f"{value} call {phone} now") == f"{value} call [phone] now"


def test_filter_redacts_formatted_log_messages(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("customer %s wrote", "bob@example.com")
    assert "bob@example.com" not in caplog.text
    assert "[email]" in caplog.text


def test_span_file_keeps_request_ids_and_redacts_other_attributes(tmp_path: Path) -> None:
    provider = build_tracer_provider("svc", exporter="file", directory=tmp_path)
    assert provider is not None
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        span.set_attribute(REQUEST_ID_ATTRIBUTE, "web-2026-000123")
        span.set_attribute("note", "customer bob@example.com")
        span.set_attribute("messaging.kafka.message.key", b"web-2026-000123")  # type: ignore[arg-type]
    provider.shutdown()
    (spans_file,) = tmp_path.glob("spans-svc-*.jsonl")
    attributes = json.loads(spans_file.read_text().splitlines()[0])["attributes"]
    assert attributes[REQUEST_ID_ATTRIBUTE] == "web-2026-000123"
    assert attributes["note"] == "customer [email]"


def test_json_log_lines_carry_service_request_id_and_redacted_message() -> None:
    import io

    from supportbus_runtime.logs import ContextFilter, JsonFormatter, current_request_id

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter("classifier"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = current_request_id.set("req-42")
    try:
        logger.warning("reply to %s failed", "ann@example.com")
    finally:
        current_request_id.reset(token)
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["service"] == "classifier"
    assert entry["request_id"] == "req-42"
    assert entry["level"] == "WARNING"
    assert entry["message"] == "reply to [email] failed"
    assert "trace_id" in entry
