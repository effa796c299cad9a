"""Tracing set-up shared by every process: one tracer provider, exporters chosen by settings.

The "file" exporter writes one JSON line per finished span to ``<dir>/spans-<service>-<pid>.jsonl``
(one file per process, so concurrent writers never interleave); `supportbus trace` reads them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.types import AttributeValue

from supportbus_runtime.logs import redact

Exporter = Literal["none", "file", "otlp-grpc", "otlp-http"]

REQUEST_ID_ATTRIBUTE = "supportbus.request_id"


def tracing_installed() -> bool:
    """Whether this process records spans (an SDK tracer provider is installed).

    Asked for every record, so it reads OpenTelemetry's global first: until a provider is
    set, ``get_tracer_provider()`` looks the environment up on each call (for
    ``OTEL_PYTHON_TRACER_PROVIDER``, which supportbus does not use: its settings choose the
    exporter), and that was an eighth of a no-op hop's CPU."""
    if getattr(trace, "_TRACER_PROVIDER", None) is None:
        return False
    return isinstance(trace.get_tracer_provider(), TracerProvider)


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, path: Path, service: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._service = service
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(self._as_dict(span)) + "\n" for span in spans)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
        return SpanExportResult.SUCCESS

    def _as_dict(self, span: ReadableSpan) -> dict[str, Any]:
        context = span.get_span_context()
        parent = span.parent
        return {
            "trace_id": f"{context.trace_id:032x}" if context else "",
            "span_id": f"{context.span_id:016x}" if context else "",
            "parent_span_id": f"{parent.span_id:016x}" if parent else None,
            "name": span.name,
            "service": self._service,
            "kind": span.kind.name,
            "start_unix_nano": span.start_time,
            "end_unix_nano": span.end_time,
            "status": span.status.status_code.name,
            "status_message": span.status.description or "",
            "attributes": {
                k: v if k == REQUEST_ID_ATTRIBUTE else _plain(v)
                for k, v in (span.attributes or {}).items()
            },
        }

    def shutdown(self) -> None:
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):  # e.g. the Kafka message key
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return redact(value)  # span attributes never carry customer PII
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def build_tracer_provider(
    service: str, *, exporter: Exporter, directory: Path, otlp_endpoint: str = ""
) -> TracerProvider | None:
    if exporter == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    span_exporter: SpanExporter
    if exporter == "file":
        span_exporter = JsonLinesSpanExporter(
            directory / f"spans-{service}-{os.getpid()}.jsonl", service
        )
    elif exporter == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter(endpoint=otlp_endpoint or None)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        span_exporter = HttpSpanExporter(endpoint=otlp_endpoint or None)
    provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=500))
    return provider


def install_tracing(
    service: str, *, exporter: Exporter, directory: Path, otlp_endpoint: str = ""
) -> TracerProvider | None:
    """Build the provider and make it the process-wide one (instrumentations use the global)."""
    provider = build_tracer_provider(
        service, exporter=exporter, directory=directory, otlp_endpoint=otlp_endpoint
    )
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def set_request_id(request_id: str) -> None:
    """Tag the current span so `supportbus trace REQUEST_ID` can find its trace."""
    trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


@contextmanager
def child_span(span_tracer: trace.Tracer, name: str) -> Iterator[trace.Span]:
    """A span under the current one, or none at all when no span is current: code that also
    runs outside any request (a micro-batch on a worker thread serves many requests, the CLI
    none) would otherwise start a trace of its own that no request can be found by."""
    if not trace.get_current_span().get_span_context().is_valid:
        yield trace.INVALID_SPAN
        return
    with span_tracer.start_as_current_span(name) as span:
        yield span


def record_span(
    span_tracer: trace.Tracer,
    name: str,
    *,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> None:
    """A finished child of the current span for work done elsewhere on the request's behalf
    (e.g. its share of a batch computed on a worker thread), with the times the work took."""
    span = span_tracer.start_span(name, start_time=start_ns, attributes=attributes)
    span.end(end_time=end_ns)
