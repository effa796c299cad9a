"""Spans from the services' file exporter: ``<dir>/spans-<service>-<pid>.jsonl``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from supportbus_cli.tracing.model import (
    REQUEST_ID_ATTRIBUTE,
    Span,
    Trace,
    TraceNotFound,
    group_traces,
)

SPAN_FILE_GLOB = "spans-*.jsonl"


@dataclass
class ScanReport:
    """What a scan read, so "not found" can say where it looked."""

    directory: Path
    files: int = 0
    spans: int = 0
    skipped_lines: int = 0


def span_from_json(record: object) -> Span | None:
    """A span from one decoded line, or None when the line is not a complete span."""
    if not isinstance(record, dict):
        return None
    try:
        trace_id, span_id = record["trace_id"], record["span_id"]
        start, end = record["start_unix_nano"], record["end_unix_nano"]
        parent = record.get("parent_span_id")
        attributes = record.get("attributes") or {}
        if not (isinstance(trace_id, str) and isinstance(span_id, str)):
            return None
        if not (isinstance(start, int) and isinstance(end, int)):
            return None
        if not isinstance(attributes, dict):
            return None
        return Span(
            trace_id=trace_id.lower(),
            span_id=span_id.lower(),
            # Some exporters write an all-zero id instead of null for "no parent".
            parent_span_id=parent.lower()
            if isinstance(parent, str) and parent.strip("0")
            else None,
            name=str(record.get("name", "")),
            service=str(record.get("service") or "unknown"),
            kind=str(record.get("kind") or "INTERNAL"),
            start_unix_nano=start,
            end_unix_nano=end,
            status=str(record.get("status") or "UNSET"),
            status_message=str(record.get("status_message") or ""),
            attributes=attributes,
        )
    except KeyError:
        return None


def read_span_file(path: Path, report: ScanReport) -> Iterator[Span]:
    """Every complete span in one file; a half-written last line (live process) is skipped."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                span = span_from_json(json.loads(line))
            except json.JSONDecodeError:
                span = None
            if span is None:
                report.skipped_lines += 1
                continue
            report.spans += 1
            yield span


def read_span_dir(directory: Path, report: ScanReport) -> Iterator[Span]:
    """The spans of every span file in ``directory`` (none if it does not exist)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(SPAN_FILE_GLOB)):
        report.files += 1
        yield from read_span_file(path, report)


def load_traces_from_dir(directory: Path, request_id: str) -> list[Trace]:
    """Every trace of ``request_id`` in the span directory, newest first.

    Raises TraceNotFound naming the directory and how much was read.
    """
    report = ScanReport(directory)
    traces = group_traces(read_span_dir(directory, report), request_id)
    if not traces:
        raise TraceNotFound(_not_found_message(request_id, report))
    return traces


def _not_found_message(request_id: str, report: ScanReport) -> str:
    where = f"{report.directory}"
    if not report.directory.is_dir():
        return (
            f"no span with {REQUEST_ID_ATTRIBUTE}={request_id!r}: {where} does not exist "
            "(are the services running with the file span exporter? or pass --spans DIR)"
        )
    skipped = f", {report.skipped_lines} unreadable line(s) skipped" if report.skipped_lines else ""
    return (
        f"no span with {REQUEST_ID_ATTRIBUTE}={request_id!r} in {where} "
        f"(read {report.files} span file(s) matching {SPAN_FILE_GLOB}, "
        f"{report.spans} span(s){skipped})"
    )
