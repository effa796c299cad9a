from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from supportbus_runtime.logs import RedactingFilter, redact
from supportbus_runtime.telemetry import REQUEST_ID_ATTRIBUTE, build_tracer_provider


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+x@example.co.uk now", "mail me at [email] now"),
        ("card 4111 1111 1111 1111 was charged", "card [card] was charged"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [iban] please"),
        ("call +44 20 7946 0958 today", "call [phone] today"),
    ],
)
def test_pii_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_numbers_that_are_not_cards_survive() -> None:
    assert redact("order 1234567812345678 shipped") != "order [card] shipped"  # fails Luhn


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
