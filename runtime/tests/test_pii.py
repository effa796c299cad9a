"""PII redaction (supportbus_runtime.pii) in the formats customers write, and through every
consumer: log records, span attributes, LLM prompts and dead-letter reasons."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportbus_contracts import RequestReceived
from supportbus_contracts import topics as t
from supportbus_runtime.deadletters import dead_letter_headers, describe_error
from supportbus_runtime.decoding import decode_event
from supportbus_runtime.errors import MessageRejected
from supportbus_runtime.llm.guardrails import BEGIN, END, protect_pii, sanitize, wrap_untrusted
from supportbus_runtime.logs import configure_logging, redact
from supportbus_runtime.telemetry import build_tracer_provider

NBSP, THIN, NNBSP = "\u00a0", "\u2009", "\u202f"

# (the PII as a customer writes it, the placeholder it becomes)
PII: list[tuple[str, str]] = [
    # phone numbers
    ("+44 20 7946 0958", "[phone]"),
    ("020 7946 0958", "[phone]"),
    ("07911 123456", "[phone]"),
    ("+44 (0)20 7946 0958", "[phone]"),
    ("(415) 555-2671", "[phone]"),
    ("415.555.2671", "[phone]"),
    ("415-555-2671", "[phone]"),
    ("+1 415 555 2671", "[phone]"),
    ("+14155552671", "[phone]"),
    (f"415{NBSP}555{NBSP}2671", "[phone]"),
    ("+49 30 12345678", "[phone]"),
    ("030/12345678", "[phone]"),
    ("0171/1234567", "[phone]"),
    ("+49 171 1234567", "[phone]"),
    (f"+49{NNBSP}30{NNBSP}12345678", "[phone]"),
    ("+33 1 42 68 53 00", "[phone]"),
    ("06 12 34 56 78", "[phone]"),
    ("+31 20 123 4567", "[phone]"),
    ("+34 912 34 56 78", "[phone]"),
    ("+39 06 1234 5678", "[phone]"),
    ("+1 (415) 555-2671", "[phone]"),
    ("1-415-555-2671", "[phone]"),
    ("(030) 12345678", "[phone]"),
    ("+49 (0)30 12345678", "[phone]"),
    ("0049 30 12345678", "[phone]"),
    ("+353 1 234 5678", "[phone]"),
    ("+353 87 123 4567", "[phone]"),
    ("087 123 4567", "[phone]"),
    ("+33 6 12 34 56 78", "[phone]"),
    ("\uff0b\uff14\uff14 20 7946 0958", "[phone]"),  # full-width +44
    # IBANs
    ("DE89 3704 0044 0532 0130 00", "[iban]"),
    ("de89370400440532013000", "[iban]"),
    ("DE89370400440532013000", "[iban]"),
    ("DE89.3704.0044.0532.0130.00", "[iban]"),
    ("GB82-WEST-1234-5698-7654-32", "[iban]"),
    ("GB82 WEST 1234 5698 7654 32", "[iban]"),
    ("gb82 west 1234 5698 7654 32", "[iban]"),
    ("FR14 2004 1010 0505 0001 3M02 606", "[iban]"),
    ("NL91ABNA0417164300", "[iban]"),
    ("ES91 2100 0418 4502 0005 1332", "[iban]"),
    ("DE89-3704-0044-0532-0130-00", "[iban]"),
    (f"DE89{NBSP}3704{NBSP}0044{NBSP}0532{NBSP}0130{NBSP}00", "[iban]"),
    ("ie29 aibk 9311 5212 3456 78", "[iban]"),
    ("IT60X0542811101000000123456", "[iban]"),
    # card numbers
    ("4111 1111 1111 1111", "[card]"),
    ("4111.1111.1111.1111", "[card]"),
    (f"4111{NBSP}1111{NBSP}1111{NBSP}1111", "[card]"),
    (f"4111{THIN}1111{THIN}1111{THIN}1111", "[card]"),
    ("4111111111111111", "[card]"),
    ("5500-0000-0000-0004", "[card]"),
    ("3782 822463 10005", "[card]"),
    ("378282246310005", "[card]"),
    ("5555 5555 5555 4444", "[card]"),
    (f"5555{NBSP}5555{NBSP}5555{NBSP}4444", "[card]"),
    ("4111-1111-1111-1111", "[card]"),
    # e-mail addresses
    ("ann.lee@example.co.uk", "[email]"),
    ("Ann.Lee+support@Example.COM", "[email]"),
    ("ann%40example.com", "[email]"),
    ("mailto:ann@example.com", "[email]"),
    ("ann (at) example (dot) com", "[email]"),
    ("ann [at] example [dot] com", "[email]"),
    ("ann[at]example.com", "[email]"),
    ("ann(at)example(dot)com", "[email]"),
    ("ann at example dot com", "[email]"),
    ("ann\uff20example.com", "[email]"),
    ("".join(chr(ord(char) + 0xFEE0) for char in "ann@example.com"), "[email]"),  # full-width
    ("MAILTO:ann@example.com", "[email]"),
    ("ann_lee@mail.example.org", "[email]"),
    ("ann.lee%40example.com", "[email]"),
    ("ann[at]example[dot]com", "[email]"),
    ("ann {at} example {dot} com", "[email]"),
    ("ann AT example DOT com", "[email]"),
]

# Digit-free around the PII, so any digit left in the output leaked from it.
TEMPLATES = ["Hi, reach me via {} today.", "Details ({}), ok?", "note: {}"]

SENTENCES = [
    pytest.param(TEMPLATES[i % len(TEMPLATES)].format(pii), pii, placeholder, id=repr(pii))
    for i, (pii, placeholder) in enumerate(PII)
]

NOT_PII = [
    "event 3f2a9c1e-8b7d-4e6f-9a01-234567890123 processed",
    "event 12345678-1234-1234-1234-123456789012 (all-digit groups)",
    "failed at 2026-03-01T09:30:00.123456+00:00",
    "at 2026-03-01 09:30:00,123",
    "on 01.03.2026 at 09:30",
    "ticket TCK-13D965C953AD opened",
    "ticket TCK-AB12CDEF1234 opened",
    "amount 1234.56 EUR refunded",
    "amount 12345.67 EUR refunded",
    "order 123456 shipped",
    "order #654321 shipped",
    "supportbus 0.1.0, python 3.11.9, kafka 4.1.1",
    "support.ticket.created.v1[2]@1234567890",
    "dead-lettering support.request.received.v1[3]@1234567: MalformedJson",
    "broker 127.0.0.1:9092, host 192.168.100.200",
    "took 1234.567890 s, record of 1,048,576 bytes",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "order 4111 1111 1111 1112 (fails Luhn)",
    "look at example.com for the details",
    "look at the dot com bubble",
    "refund of \u20ac1,234.56 approved, $12,345.00 pending",
    "charged on 2024-03-01, due 01/04/2024, shipped 2024/03/05",
    "call back between 14:30 and 16:45:30 CET",
    "order 1234 shipped",
    "order number 12345678 is on its way",
    "card ending 1234 was declined",
    "card ending in 4242 expires 09/27",
    "your one-time code is 482913",
    "transaction txn_9f8e7d6c5b4a3210 settled",
    "transaction id TX-20240301-000123 settled",
    "payment pi_3NkXyZ2eZvKYlo2C1a2b3c4d captured",
    "upgrade from v2.14.3 to 10.0.19045.3930",
    "invoice INV-2024-000987 for 3 seats",
    "ticket #98765 and 2 attachments of 120 KB",
    "caf\u00e9 \ufb01le na\u00efve",  # not NFKC-normal, nothing to redact: kept as written
]


def assert_redacted(out: str, pii: str, placeholder: str) -> None:
    assert placeholder in out, out
    pii = unicodedata.normalize("NFKC", pii)  # what redact compares, full-width or not
    if placeholder == "[email]":
        local = re.split(r"@|%40|\s*[\[({]?at[\])}]?\s*", re.sub("(?i)^mailto:", "", pii))[0]
        assert not re.search(rf"\b{re.escape(local)}\b", out, re.IGNORECASE), out
        assert "example" not in out.lower(), out
    else:
        assert not re.search(r"\d", out), out  # not one digit of the number is left
        for letters in re.findall(r"[A-Za-z]{3,}", pii):  # nor a bank code like WEST
            assert letters.lower() not in out.lower(), out


@pytest.mark.parametrize(("sentence", "pii", "placeholder"), SENTENCES)
def test_pii_is_redacted(sentence: str, pii: str, placeholder: str) -> None:
    assert_redacted(redact(sentence), pii, placeholder)


@pytest.mark.parametrize("text", NOT_PII)
def test_non_pii_comes_out_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_table_is_large_enough() -> None:
    assert len(PII) >= 40
    assert len(NOT_PII) >= 15


def test_several_kinds_in_one_text() -> None:
    text = "ann@example.com, +44 20 7946 0958, DE89 3704 0044 0532 0130 00, 4111 1111 1111 1111."
    assert redact(text) == "[email], [phone], [iban], [card]."


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_records_are_redacted(
    fmt: str, root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "test-svc", fmt=fmt)
    logger = logging.getLogger("test.pii")
    for sentence, _, _ in (s.values for s in SENTENCES):
        logger.info("customer wrote: %s", sentence)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(SENTENCES)
    for line, (pii, placeholder) in zip(lines, PII, strict=True):
        message = json.loads(line)["message"] if fmt == "json" else line.split("]: ", 1)[1]
        assert_redacted(message, pii, placeholder)


def test_span_attributes_are_redacted(tmp_path: Path) -> None:
    provider = build_tracer_provider("svc", exporter="file", directory=tmp_path)
    assert provider is not None
    tracer = provider.get_tracer("test")
    for index, (sentence, _, _) in enumerate(s.values for s in SENTENCES):
        with tracer.start_as_current_span("work") as span:
            span.set_attribute("note", sentence)
            span.set_attribute("index", index)
    provider.shutdown()
    (spans_file,) = tmp_path.glob("spans-svc-*.jsonl")
    spans = [json.loads(line)["attributes"] for line in spans_file.read_text().splitlines()]
    assert len(spans) == len(PII)
    for attributes in spans:
        pii, placeholder = PII[attributes["index"]]
        assert_redacted(attributes["note"], pii, placeholder)


@pytest.mark.parametrize(("sentence", "pii", "placeholder"), SENTENCES)
def test_llm_prompts_are_redacted_unless_allowed(sentence: str, pii: str, placeholder: str) -> None:
    prompt = wrap_untrusted(protect_pii(sanitize(sentence, 4000), allow_pii=False))
    assert prompt.startswith(BEGIN)
    assert prompt.endswith(END)
    assert_redacted(prompt.removeprefix(BEGIN).removesuffix(END), pii, placeholder)
    assert protect_pii(sentence, allow_pii=True) == sentence


@pytest.mark.parametrize(("sentence", "pii", "placeholder"), SENTENCES)
def test_dead_letter_reasons_are_redacted(sentence: str, pii: str, placeholder: str) -> None:
    headers = dead_letter_headers(
        original={"x-request-id": "web-2026-000123"},
        service="svc",
        error_type="MessageRejected",
        reason=f"cannot route: {sentence}",
        topic="support.request.received.v1",
        partition=0,
        offset=1234567,
        attempts=1,
    )
    assert_redacted(headers[t.DLQ_HEADER_ERROR_MESSAGE], pii, placeholder)
    assert headers[t.DLQ_HEADER_ORIGINAL_OFFSET] == "1234567"
    assert headers["x-request-id"] == "web-2026-000123"


@pytest.mark.parametrize(
    ("key", "placeholder"),
    [
        ("ann@example.com", "[email]"),
        ("ann%40example.com", "[email]"),
        ("+44 20 7946 0958", "[phone]"),
        ("DE89370400440532013000", "[iban]"),
    ],
)
def test_dead_letter_reason_redacts_a_validation_error_location(key: str, placeholder: str) -> None:
    # pydantic names the bad metadata value by its key: the key is the customer's to choose.
    raw = json.dumps({"request_id": "r", "request": {"metadata": {key: 5}}}).encode()
    with pytest.raises(MessageRejected) as rejected:
        decode_event(RequestReceived, raw, 1_000_000)
    error_type, reason = describe_error(rejected.value)
    headers = dead_letter_headers(
        original={},
        service="svc",
        error_type=error_type,
        reason=reason,
        topic="support.request.received.v1",
        partition=0,
        offset=7,
        attempts=1,
    )
    message = headers[t.DLQ_HEADER_ERROR_MESSAGE]
    assert error_type == "SchemaValidationError"
    assert f"request.metadata.{placeholder}: Input should be a valid string" in message, message
    assert_redacted(message.split("request.metadata.", 1)[1], key, placeholder)
