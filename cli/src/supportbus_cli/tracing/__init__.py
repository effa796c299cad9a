"""`supportbus trace REQUEST_ID`: one request's distributed trace as a waterfall.

Spans come from the services' file exporter (``var/traces/spans-<service>-<pid>.jsonl``) or from
a Jaeger query endpoint; both are turned into the same :class:`Span` model, grouped into
:class:`Trace` objects and rendered as text, HTML or PNG. The command itself lives in
:mod:`supportbus_cli.tracing.command` (``register(app)``).
"""

from __future__ import annotations

from supportbus_cli.tracing.model import Span, Trace, TraceNotFound, TraceRow, group_traces

__all__ = ["Span", "Trace", "TraceNotFound", "TraceRow", "group_traces"]
