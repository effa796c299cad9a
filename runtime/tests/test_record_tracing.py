"""Per-record spans: a consumed record continues its producer's trace, and what is published
while it is handled carries that trace on in its headers."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from supportbus_devtools.testing import consumer_record
from supportbus_devtools.testing_spans import recorded_spans
from supportbus_runtime.record_tracing import consuming, publishing


def _tracing_record(headers: list[tuple[str, bytes | None]]) -> Any:
    return consumer_record(
        headers, topic="support.request.received.v1", partition=2, offset=41, key=b"req-7"
    )


def _published_headers(record: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    with (
        consuming(record, "supportbus-classifier", "req-7"),
        publishing("support.request.classified.v1", headers),
    ):
        pass
    return headers


def test_a_record_is_processed_in_its_producers_trace_and_its_output_carries_it_on() -> None:
    spans = recorded_spans()
    upstream = _published_headers(_tracing_record([]))  # as if an upstream service had published it
    trace_id = upstream["traceparent"].split("-")[1]

    downstream = _published_headers(
        _tracing_record([(k, v.encode()) for k, v in upstream.items()] + [("x-null", None)])
    )

    assert downstream["traceparent"].split("-")[1] == trace_id
    ours = [
        s
        for s in spans.get_finished_spans()
        if s.context and f"{s.context.trace_id:032x}" == trace_id
    ]
    names = [(s.name, s.kind) for s in ours]
    assert names.count(("support.request.received.v1 process", SpanKind.CONSUMER)) == 2
    assert names.count(("support.request.classified.v1 publish", SpanKind.PRODUCER)) == 2
    process = next(s for s in ours if s.kind == SpanKind.CONSUMER)
    assert process.attributes is not None
    assert process.attributes["supportbus.request_id"] == "req-7"
    assert process.attributes["messaging.kafka.message.offset"] == 41


def test_a_record_without_trace_context_starts_a_trace_of_its_own() -> None:
    recorded_spans()
    first = _published_headers(_tracing_record([]))
    second = _published_headers(_tracing_record([("traceparent", b"not a traceparent")]))
    assert first["traceparent"].split("-")[1] != second["traceparent"].split("-")[1]
