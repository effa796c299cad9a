"""Logging set-up shared by every process, with a filter that keeps customer PII out of logs."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

from supportbus_runtime.lognoise import RepeatedLogFilter

# The request being handled by this task, stamped on every log line it writes.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "supportbus_request_id", default=""
)

# A number glued to an identifier is part of it, never PII: the hex groups of a UUID or a
# uuid-suffixed client id, a version, a decimal, a Kafka offset (topic[3]@123456789), a path.
# Matches must not start right after, nor end right before, such characters (a "." that ends a
# sentence is fine). Ports and clock times are too short to be numbers, so ":" may touch one.
_NOT_AFTER_ID = r"(?<![\w./@-])"
_NOT_BEFORE_ID = r"(?![\w/@-]|\.\w)"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(
    rf"{_NOT_AFTER_ID}[A-Z]{{2}}\d{{2}}(?:[ ]?[A-Z0-9]{{4}}){{2,7}}(?:[ ]?[A-Z0-9]{{1,4}})?"
    rf"{_NOT_BEFORE_ID}"
)
_CARD = re.compile(rf"{_NOT_AFTER_ID}(?:\d[ -]?){{12,18}}\d{_NOT_BEFORE_ID}")
# Digit groups split by single spaces or dashes, with an optional +country code and an optional
# (area code): +44 20 7946 0958, (555) 123-4567, 07700 900123, 07700900123.
_PHONE = re.compile(
    rf"{_NOT_AFTER_ID}(?:\+\d{{1,3}}[ -]?)?(?:\(\d{{1,5}}\)[ -]?)?\d+(?:[ -]\d+)*{_NOT_BEFORE_ID}"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# E.164 caps a number at 15 digits. Written with separators, 7 digits can be a number; a bare
# run of digits needs 9, so counts, sizes and offsets up to hundreds of millions stay readable.
_PHONE_MAX_DIGITS = 15
_PHONE_MIN_DIGITS = 7
_BARE_PHONE_MIN_DIGITS = 9


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group()


def _iban(match: re.Match[str]) -> str:
    # The ISO 13616 check digits: an upper-case id that merely looks like an IBAN (a ticket id,
    # a hash) passes one time in 97.
    compact = match.group().replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return "[iban]" if 15 <= len(compact) <= 34 and int(number) % 97 == 1 else match.group()


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(char.isdigit() for char in text)
    bare = text.isdigit()
    least = _BARE_PHONE_MIN_DIGITS if bare else _PHONE_MIN_DIGITS
    if not least <= digits <= _PHONE_MAX_DIGITS or _DATE.match(text):  # 2026-03-01 09:30
        return text
    return "[phone]"


def redact(text: str) -> str:
    """Mask e-mail addresses, IBANs (valid check digits), Luhn-valid card numbers and phone
    numbers; identifiers (UUIDs, trace ids, offsets, timestamps) are left as they are."""
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class ContextFilter(logging.Filter):
    """Adds service, request_id and trace_id to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry import trace

        record.service = self._service
        record.request_id = current_request_id.get()
        context = trace.get_current_span().get_span_context()
        record.trace_id = f"{context.trace_id:032x}" if context.is_valid else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "trace_id": getattr(record, "trace_id", ""),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, service: str, fmt: str = "text") -> None:
    """Logs to stderr, PII redacted; ``fmt="json"`` writes one JSON object per line with
    service, request_id and trace_id."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(service)s %(name)s [%(request_id)s]: %(message)s"
            )
        )
    # First: a broker outage makes the Kafka client log thousands of identical lines; one per
    # kind every 30 s passes, with the count (supportbus_runtime.lognoise).
    handler.addFilter(RepeatedLogFilter(30.0))
    handler.addFilter(ContextFilter(service))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about group membership; warnings are what operators need.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
