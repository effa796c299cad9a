"""The waterfall as plain text: fixed columns and block-character bars, readable when piped."""

from __future__ import annotations

import math
from collections.abc import Sequence

from supportbus_cli.tracing.model import Span, Trace, format_ms

DEFAULT_BAR_WIDTH = 40
INDENT = "  "  # per tree level
MAX_LABEL_WIDTH = 64
BAR_CHAR = "█"
ERROR_MARK = "!"


def render_traces(traces: Sequence[Trace], bar_width: int = DEFAULT_BAR_WIDTH) -> str:
    """Every trace of one request, newest first, separated by a blank line."""
    blocks = [render_trace(trace, bar_width) for trace in traces]
    if len(traces) > 1:
        intro = f"request {traces[0].request_id}: {len(traces)} traces, newest first"
        blocks.insert(0, intro)
    return "\n\n".join(blocks) + "\n"


def render_trace(trace: Trace, bar_width: int = DEFAULT_BAR_WIDTH) -> str:
    return "\n".join(
        [header_line(trace), *waterfall_lines(trace, bar_width), "", *summary_lines(trace)]
    )


def header_line(trace: Trace) -> str:
    return (
        f"trace {trace.trace_id}  request {trace.request_id}  "
        f"total {format_ms(trace.duration_ns)} ms  {len(trace.spans)} spans  "
        f"services: {', '.join(trace.services)}"
    )


def waterfall_lines(trace: Trace, bar_width: int = DEFAULT_BAR_WIDTH) -> list[str]:
    """A column header, then one line per span in tree order."""
    labels = [_clip(INDENT * row.depth + row.span.name, MAX_LABEL_WIDTH) for row in trace.rows]
    label_width = max(len("span"), *(len(label) for label in labels))
    service_width = max(len("service"), *(len(row.span.service) for row in trace.rows))
    axis = f"0 … {format_ms(trace.duration_ns)} ms"
    lines = [
        f"  {'span':<{label_width}}  {'service':<{service_width}}  "
        f"{'start ms':>10}  {'dur ms':>10}  |{_clip(axis, bar_width):<{bar_width}}|"
    ]
    for label, row in zip(labels, trace.rows, strict=True):
        span = row.span
        marker = ERROR_MARK if span.is_error else " "
        line = (
            f"{marker} {label:<{label_width}}  {span.service:<{service_width}}  "
            f"{format_ms(span.start_unix_nano - trace.start_unix_nano):>10}  "
            f"{format_ms(span.duration_ns):>10}  |{bar(trace, span, bar_width)}|"
        )
        if span.is_error:
            line += f" ERROR {span.status_message}".rstrip()
        lines.append(line)
    return lines


def bar(trace: Trace, span: Span, width: int) -> str:
    """The span's extent on a ``width``-column timeline; at least one block so it is visible."""
    total = max(trace.duration_ns, 1)
    first = math.floor((span.start_unix_nano - trace.start_unix_nano) * width / total)
    last = math.ceil((span.end_unix_nano - trace.start_unix_nano) * width / total)
    first = min(max(first, 0), width - 1)
    last = min(max(last, first + 1), width)
    return " " * first + BAR_CHAR * (last - first) + " " * (width - last)


def summary_lines(trace: Trace) -> list[str]:
    """Per service: the time covered by its spans (overlaps once), and where its work starts."""
    totals = trace.service_totals()
    width = max(len("service"), *(len(total.service) for total in totals))
    lines = [
        "per service (time covered by its spans, overlaps counted once; time queued in Kafka",
        "             is not in it; top-level spans: those whose parent is in another service)",
        f"  {'service':<{width}}  {'top-level spans':>15}  {'total ms':>10}  {'% of trace':>10}",
    ]
    trace_ns = max(trace.duration_ns, 1)
    for total in totals:
        share = 100 * total.duration_ns / trace_ns
        lines.append(
            f"  {total.service:<{width}}  {total.top_level_spans:>15}  "
            f"{format_ms(total.duration_ns):>10}  {share:>9.1f}%"
        )
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
