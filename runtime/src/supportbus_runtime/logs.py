"""Logging set-up shared by every process, with a filter that keeps customer PII out of logs."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from supportbus_runtime.lognoise import RepeatedLogFilter
from supportbus_runtime.pii import redact as redact  # the one redaction, imported from here

# The request being handled by this task, stamped on every log line it writes.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "supportbus_request_id", default=""
)


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
