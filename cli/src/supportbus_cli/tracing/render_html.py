"""The waterfall as one self-contained HTML file: inline CSS, no scripts, no external assets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape

from supportbus_cli.tracing.model import Span, Trace, format_ms
from supportbus_cli.tracing.palette import ERROR_COLOUR, css_colour, service_colours

_STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin: 1.5em 0 0.2em; font-family: monospace; }
.meta { color: #555; margin: 0 0 0.8em; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 2px 6px; text-align: left; vertical-align: top; white-space: nowrap; }
th { border-bottom: 1px solid #bbb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.span:hover { background: #f3f6fa; }
tr.error td.label summary { color: ERROR_RED; font-weight: 600; }
td.lane { width: 45%; position: relative; padding: 0;
  background: repeating-linear-gradient(to right, #e4e4e4 0 1px, transparent 1px 25%); }
.bar { position: absolute; top: 4px; height: 12px; min-width: 2px; border-radius: 2px; }
.bar.error { outline: 2px solid ERROR_RED; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }
details dl { margin: 0.3em 0 0.3em 1em; font-family: monospace; white-space: normal; }
details dt { color: #555; } details dd { margin: 0 0 0.2em 1em; word-break: break-all; }
""".replace("ERROR_RED", css_colour(ERROR_COLOUR))


def render_html(traces: Sequence[Trace]) -> str:
    """A whole HTML document for every trace of one request, newest first."""
    request_id = traces[0].request_id if traces else ""
    sections = "\n".join(_trace_section(trace) for trace in traces)
    count = f"{len(traces)} traces, newest first" if len(traces) > 1 else "1 trace"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>trace {escape(request_id)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>Request {escape(request_id)} <small>({count})</small></h1>\n"
        f"{sections}\n</body>\n</html>\n"
    )


def _trace_section(trace: Trace) -> str:
    colours = {name: css_colour(rgb) for name, rgb in service_colours(trace.services).items()}
    rows = "\n".join(_span_row(trace, row.span, row.depth, colours) for row in trace.rows)
    return (
        f'<section class="trace">\n<h2>trace {escape(trace.trace_id)}</h2>\n'
        f'<p class="meta">total {format_ms(trace.duration_ns)} ms · {len(trace.spans)} spans · '
        f"services: {escape(', '.join(trace.services))}</p>\n"
        '<table class="waterfall">\n<thead><tr><th>span</th><th>service</th>'
        '<th class="num">start ms</th><th class="num">dur ms</th>'
        f"<th>timeline (0 – {format_ms(trace.duration_ns)} ms)</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>\n{_summary_table(trace, colours)}\n</section>"
    )


def _span_row(trace: Trace, span: Span, depth: int, colours: dict[str, str]) -> str:
    total = max(trace.duration_ns, 1)
    left = 100 * (span.start_unix_nano - trace.start_unix_nano) / total
    width = 100 * span.duration_ns / total
    error_class = " error" if span.is_error else ""
    marker = "! " if span.is_error else ""
    return (
        f'<tr class="span{error_class}" title="{escape(_tooltip(span))}">'
        f'<td class="label" style="padding-left: {0.4 + 1.2 * depth:.1f}em">'
        f"<details><summary>{escape(marker + span.name)}</summary>{_attribute_list(span)}"
        "</details></td>"
        f'<td><span class="swatch" style="background: {colours[span.service]}"></span>'
        f"{escape(span.service)}</td>"
        f'<td class="num">{format_ms(span.start_unix_nano - trace.start_unix_nano)}</td>'
        f'<td class="num">{format_ms(span.duration_ns)}</td>'
        f'<td class="lane"><div class="bar{error_class}" style="left: {left:.3f}%; '
        f'width: {width:.3f}%; background: {colours[span.service]}"></div></td></tr>'
    )


def _facts(span: Span) -> list[tuple[str, str]]:
    """What the hover text and the details list show: identity, status, then attributes."""
    facts = [("span_id", span.span_id), ("kind", span.kind), ("status", span.status)]
    if span.status_message:
        facts.append(("status_message", span.status_message))
    facts.extend((key, _value_text(value)) for key, value in sorted(span.attributes.items()))
    return facts


def _tooltip(span: Span) -> str:
    return "\n".join(f"{key} = {value}" for key, value in _facts(span))


def _attribute_list(span: Span) -> str:
    items = "".join(
        f"<dt>{escape(key)}</dt><dd>{escape(value)}</dd>" for key, value in _facts(span)
    )
    return f"<dl>{items}</dl>"


def _value_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _summary_table(trace: Trace, colours: dict[str, str]) -> str:
    rows = "".join(
        f'<tr><td><span class="swatch" style="background: {colours[total.service]}"></span>'
        f'{escape(total.service)}</td><td class="num">{total.top_level_spans}</td>'
        f'<td class="num">{format_ms(total.duration_ns)}</td></tr>'
        for total in trace.service_totals()
    )
    return (
        '<p class="meta">Per service: the time covered by its spans, overlaps counted once '
        "(time queued in Kafka is not in it).</p>\n"
        '<table class="summary" style="width: auto"><thead><tr><th>service</th>'
        '<th class="num">top-level spans</th><th class="num">total ms</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
