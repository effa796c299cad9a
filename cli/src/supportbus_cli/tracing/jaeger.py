"""Spans from a Jaeger query endpoint (the HTTP JSON API its UI uses, e.g. :16686)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

from supportbus_cli.tracing.model import (
    REQUEST_ID_ATTRIBUTE,
    Span,
    Trace,
    TraceNotFound,
    group_traces,
)

# The services that tag their spans with the request id; Jaeger's search needs a service name.
JAEGER_SEARCH_SERVICES = ("classifier", "retriever", "ticketer", "responder")
SEARCH_LIMIT = 20
# Tags Jaeger derives from OTel span fields; they are not span attributes, so they are dropped
# to give the same Span as the file exporter writes.
_DERIVED_TAGS = frozenset(
    {
        "span.kind",
        "error",
        "otel.status_code",
        "otel.status_description",
        "otel.scope.name",
        "otel.scope.version",
        "otel.library.name",
        "otel.library.version",
        "internal.span.format",
    }
)
_NANOS_PER_MICRO = 1_000


def load_traces_from_jaeger(
    url: str,
    request_id: str,
    *,
    services: Iterable[str] = JAEGER_SEARCH_SERVICES,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 10.0,
) -> list[Trace]:
    """Every trace of ``request_id`` known to Jaeger, newest first; TraceNotFound otherwise."""
    services = tuple(services)
    with httpx.Client(base_url=url.rstrip("/"), transport=transport, timeout=timeout_s) as client:
        trace_ids, problems = _search_trace_ids(client, request_id, services)
        spans: list[Span] = []
        for trace_id in sorted(trace_ids):
            try:
                spans.extend(_fetch(client, trace_id))
            except (httpx.HTTPError, ValueError, KeyError) as error:
                problems.append(f"trace {trace_id}: {type(error).__name__}: {error}")
    traces = group_traces(spans, request_id)
    if not traces:
        detail = f"; {'; '.join(problems)}" if problems else ""
        raise TraceNotFound(
            f"no span with {REQUEST_ID_ATTRIBUTE}={request_id!r} in Jaeger at {url} "
            f"(searched services {', '.join(services)}{detail})"
        )
    return traces


def _search_trace_ids(
    client: httpx.Client, request_id: str, services: tuple[str, ...]
) -> tuple[set[str], list[str]]:
    """Union of trace ids over every service's tag search, and what went wrong per service.

    One failing service (not yet reported to Jaeger, a 500) must not hide the others' traces.
    """
    trace_ids: set[str] = set()
    problems: list[str] = []
    tags = json.dumps({REQUEST_ID_ATTRIBUTE: request_id})
    for service in services:
        params = {"service": service, "tags": tags, "limit": str(SEARCH_LIMIT)}
        try:
            response = client.get("/api/traces", params=params)
            response.raise_for_status()
            found = response.json().get("data") or []
        except (httpx.HTTPError, ValueError) as error:
            problems.append(f"{service}: {type(error).__name__}: {error}")
            continue
        trace_ids.update(_trace_id(trace["traceID"]) for trace in found if trace.get("traceID"))
    return trace_ids, problems


def _fetch(client: httpx.Client, trace_id: str) -> list[Span]:
    response = client.get(f"/api/traces/{trace_id}")
    response.raise_for_status()
    return [
        span
        for document in response.json().get("data") or []
        for span in spans_from_jaeger_trace(document)
    ]


def spans_from_jaeger_trace(document: Mapping[str, Any]) -> Iterator[Span]:
    """Convert one element of Jaeger's ``data`` array into our spans."""
    processes: Mapping[str, Any] = document.get("processes") or {}
    for raw in document.get("spans") or []:
        tags = {tag["key"]: tag.get("value") for tag in raw.get("tags") or []}
        process = processes.get(raw.get("processID", ""), {})
        start_us, duration_us = int(raw["startTime"]), int(raw.get("duration", 0))
        yield Span(
            trace_id=_trace_id(raw["traceID"]),
            span_id=_span_id(raw["spanID"]),
            parent_span_id=_parent_id(raw),
            name=str(raw.get("operationName", "")),
            service=str(process.get("serviceName") or "unknown"),
            kind=str(tags.get("span.kind") or "internal").upper(),
            start_unix_nano=start_us * _NANOS_PER_MICRO,
            end_unix_nano=(start_us + duration_us) * _NANOS_PER_MICRO,
            status=_status(tags),
            status_message=str(tags.get("otel.status_description") or ""),
            attributes={k: v for k, v in tags.items() if k not in _DERIVED_TAGS},
        )


def _parent_id(raw: Mapping[str, Any]) -> str | None:
    # The parent is the CHILD_OF reference within the same trace; FOLLOWS_FROM are span links.
    own_trace = _trace_id(raw["traceID"])
    for reference in raw.get("references") or []:
        if reference.get("refType") != "CHILD_OF":
            continue
        if _trace_id(reference.get("traceID") or own_trace) == own_trace:
            return _span_id(reference["spanID"])
    return None


def _status(tags: Mapping[str, object]) -> str:
    code = str(tags.get("otel.status_code") or "").upper()
    if code in ("OK", "ERROR"):
        return code
    # Older Jaeger exporters only set the boolean ``error`` tag.
    return "ERROR" if tags.get("error") in (True, "true") else "UNSET"


def _trace_id(value: str) -> str:
    # Jaeger drops leading zeros from ids; the file exporter writes full-width hex.
    return value.lower().zfill(32)


def _span_id(value: str) -> str:
    return value.lower().zfill(16)
