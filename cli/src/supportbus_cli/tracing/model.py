"""The span and trace model every loader produces and every renderer reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from supportbus_runtime.errors import SupportbusError

REQUEST_ID_ATTRIBUTE = "supportbus.request_id"
NANOS_PER_MS = 1_000_000


class TraceNotFound(SupportbusError):
    """No span carries the request id; the message says where we looked."""


@dataclass(frozen=True)
class Span:
    """One finished span, whatever backend it came from (times in Unix nanoseconds)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    kind: str
    start_unix_nano: int
    end_unix_nano: int
    status: str = "UNSET"
    status_message: str = ""
    attributes: Mapping[str, object] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        # A clock step inside a process can give end < start; never draw a negative bar.
        return max(self.end_unix_nano - self.start_unix_nano, 0)

    @property
    def is_error(self) -> bool:
        return self.status == "ERROR"

    @property
    def request_id(self) -> str | None:
        value = self.attributes.get(REQUEST_ID_ATTRIBUTE)
        return str(value) if value is not None else None


@dataclass(frozen=True)
class TraceRow:
    """A span at its place in the waterfall: depth-first, children by start time."""

    span: Span
    depth: int


@dataclass(frozen=True)
class ServiceTotal:
    """Time a service spent on the request: the time covered by its spans, overlaps once."""

    service: str
    top_level_spans: int
    duration_ns: int


@dataclass(frozen=True)
class Trace:
    """All spans sharing one trace id, gathered from every process that took part."""

    trace_id: str
    request_id: str
    spans: tuple[Span, ...]

    @property
    def start_unix_nano(self) -> int:
        return min(span.start_unix_nano for span in self.spans)

    @property
    def end_unix_nano(self) -> int:
        return max(span.end_unix_nano for span in self.spans)

    @property
    def duration_ns(self) -> int:
        return self.end_unix_nano - self.start_unix_nano

    @cached_property
    def _by_id(self) -> dict[str, Span]:
        return {span.span_id: span for span in self.spans}

    def parent_of(self, span: Span) -> Span | None:
        """The parent span if it is in this trace; a missing parent makes ``span`` a root."""
        if span.parent_span_id is None:
            return None
        return self._by_id.get(span.parent_span_id)

    @property
    def services(self) -> list[str]:
        """Services in the order they first appear on the timeline."""
        seen: dict[str, None] = {}
        for span in sorted(self.spans, key=_timeline_key):
            seen.setdefault(span.service, None)
        return list(seen)

    @cached_property
    def rows(self) -> tuple[TraceRow, ...]:
        """The spans in tree order (depth-first), children and roots sorted by start time."""
        children: dict[str | None, list[Span]] = {}
        for span in self.spans:
            parent = self.parent_of(span)
            children.setdefault(parent.span_id if parent else None, []).append(span)
        ordered: list[TraceRow] = []
        # An explicit stack rather than recursion: deep chains of spans cannot hit the limit.
        stack = [TraceRow(span, 0) for span in sorted(children.get(None, []), key=_timeline_key)]
        stack.reverse()
        while stack:
            row = stack.pop()
            ordered.append(row)
            kids = sorted(children.get(row.span.span_id, []), key=_timeline_key)
            stack.extend(TraceRow(kid, row.depth + 1) for kid in reversed(kids))
        # A parent cycle (corrupt data) would leave spans unreachable from any root: keep them.
        reached = {row.span.span_id for row in ordered}
        ordered.extend(
            TraceRow(span, 0)
            for span in sorted(self.spans, key=_timeline_key)
            if span.span_id not in reached
        )
        return tuple(ordered)

    def is_top_level(self, span: Span) -> bool:
        """A span whose parent is absent or in another service: where a service's work starts.

        Summing only these avoids counting a service's nested spans twice.
        """
        parent = self.parent_of(span)
        return parent is None or parent.service != span.service

    def service_totals(self) -> list[ServiceTotal]:
        """Per service, in timeline order: the time covered by its spans (the union of their
        intervals). Summing top-level spans alone would miss work whose parent is a
        zero-length span of the same service, such as FastStream's "create" span."""
        totals = []
        for service in self.services:
            spans = [s for s in self.spans if s.service == service]
            top_level = sum(1 for s in spans if self.is_top_level(s))
            totals.append(ServiceTotal(service, top_level, _covered_ns(spans)))
        return totals


def _covered_ns(spans: list[Span]) -> int:
    covered, end = 0, None
    for span in sorted(spans, key=lambda s: s.start_unix_nano):
        start = span.start_unix_nano if end is None else max(span.start_unix_nano, end)
        if span.end_unix_nano > start:
            covered += span.end_unix_nano - start
        end = span.end_unix_nano if end is None else max(end, span.end_unix_nano)
    return covered


def _timeline_key(span: Span) -> tuple[int, int, str]:
    # Ties broken by end time and span id so the order never depends on file read order.
    return span.start_unix_nano, span.end_unix_nano, span.span_id


def group_traces(spans: Iterable[Span], request_id: str) -> list[Trace]:
    """Every trace containing a span tagged with ``request_id``, newest first.

    Usually one; a dead-letter redrive starts a new trace for the same request.
    """
    by_trace: dict[str, dict[str, Span]] = {}
    wanted: set[str] = set()
    for span in spans:
        # The same span may be exported twice (e.g. Jaeger search and fetch); keep the first.
        by_trace.setdefault(span.trace_id, {}).setdefault(span.span_id, span)
        if span.request_id == request_id:
            wanted.add(span.trace_id)
    traces = [
        Trace(trace_id, request_id, tuple(by_trace[trace_id].values())) for trace_id in wanted
    ]
    traces.sort(key=lambda trace: (trace.start_unix_nano, trace.trace_id), reverse=True)
    return traces


def format_ms(nanos: int) -> str:
    """Milliseconds with microsecond precision: what an operator compares across spans."""
    return f"{nanos / NANOS_PER_MS:.3f}"
