"""Dead letters: the original record, untouched, plus headers that say what went wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from supportbus_contracts import topics as t
from supportbus_runtime.errors import MessageRejected, RetryBudgetExhausted
from supportbus_runtime.logs import redact

TRUNCATED_HEADER = "x-dlq-truncated-from-bytes"

_DLQ_HEADERS = (
    TRUNCATED_HEADER,
    t.DLQ_HEADER_ERROR_TYPE,
    t.DLQ_HEADER_ERROR_MESSAGE,
    t.DLQ_HEADER_SERVICE,
    t.DLQ_HEADER_FAILED_AT,
    t.DLQ_HEADER_ORIGINAL_TOPIC,
    t.DLQ_HEADER_ORIGINAL_PARTITION,
    t.DLQ_HEADER_ORIGINAL_OFFSET,
    t.DLQ_HEADER_ATTEMPTS,
)


def dead_letter_headers(
    *,
    original: Mapping[str, object],
    service: str,
    error_type: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    attempts: int,
) -> dict[str, str]:
    headers = {k: _text(v) for k, v in original.items() if k not in _DLQ_HEADERS}
    headers.update(
        {
            t.DLQ_HEADER_ERROR_TYPE: error_type,
            t.DLQ_HEADER_ERROR_MESSAGE: redact(reason),  # operators read it: never customer PII
            t.DLQ_HEADER_SERVICE: service,
            t.DLQ_HEADER_FAILED_AT: datetime.now(UTC).isoformat(),
            t.DLQ_HEADER_ORIGINAL_TOPIC: topic,
            t.DLQ_HEADER_ORIGINAL_PARTITION: str(partition),
            t.DLQ_HEADER_ORIGINAL_OFFSET: str(offset),
            t.DLQ_HEADER_ATTEMPTS: str(attempts),
        }
    )
    return headers


def original_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers the record had before it was dead-lettered (for redrive)."""
    return {k: v for k, v in headers.items() if k not in _DLQ_HEADERS}


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered record as operators see it."""

    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @classmethod
    def from_record(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        headers = {k: v.decode("utf-8", errors="replace") for k, v in record.headers}
        return cls(
            record.topic, record.partition, record.offset, record.key, record.value or b"", headers
        )

    @property
    def error_type(self) -> str:
        return self.headers.get(t.DLQ_HEADER_ERROR_TYPE, "?")

    @property
    def reason(self) -> str:
        return self.headers.get(t.DLQ_HEADER_ERROR_MESSAGE, "")

    @property
    def service(self) -> str:
        return self.headers.get(t.DLQ_HEADER_SERVICE, "?")

    @property
    def failed_at(self) -> str:
        return self.headers.get(t.DLQ_HEADER_FAILED_AT, "")

    @property
    def original_topic(self) -> str:
        return self.headers.get(t.DLQ_HEADER_ORIGINAL_TOPIC) or self.dlq_topic.removesuffix(
            t.DEAD_LETTER_SUFFIX
        )


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def describe_error(error: BaseException) -> tuple[str, str]:
    """A type name and a reason fit for logs and dead-letter headers: never the payload."""
    if isinstance(error, MessageRejected):
        return error.error_type, error.reason
    # Redacted before the cut: a number cut at the limit would no longer look like one.
    if isinstance(error, RetryBudgetExhausted):
        return type(error.last).__name__, redact(" ".join(str(error).split()))[:1000]
    text = str(error) or error.__class__.__doc__ or ""
    return type(error).__name__, redact(" ".join(text.split()))[:1000]
