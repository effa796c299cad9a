from __future__ import annotations

import logging

import pytest

from supportbus_runtime.logs import RedactingFilter, redact


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
