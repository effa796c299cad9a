"""For tests: the spans this process finishes, kept in memory."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def recorded_spans() -> InMemorySpanExporter:
    """The process-wide in-memory exporter, installed on first use. OpenTelemetry allows one
    global tracer provider per process, so this adds to the SDK provider already installed, or
    installs one; spans of other tests land here too: filter by trace."""
    global _exporter
    if _exporter is None:
        exporter = InMemorySpanExporter()
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider()
            trace.set_tracer_provider(provider)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        _exporter = exporter
    return _exporter


def spans_of_trace(exporter: InMemorySpanExporter, root_name: str) -> list[ReadableSpan]:
    """Every finished span in the trace of the last finished span called ``root_name``."""
    spans = exporter.get_finished_spans()
    root = next(s for s in reversed(spans) if s.name == root_name)
    assert root.context is not None
    trace_id = root.context.trace_id
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
