"""Spans and W3C trace context per record, written once for every consumer and publisher.

Records are fetched a batch at a time, so FastStream's tracing middleware (a span per message it
handles) would see batches; and outputs go straight to aiokafka's producer. So the runtime
traces records itself, with the names and attributes of OpenTelemetry's messaging conventions
(the ones FastStream used): each record is processed inside a CONSUMER span ``<topic> process``
whose parent is the context its producer put in the record's ``traceparent`` header, and each
output is published inside a PRODUCER span ``<topic> publish`` whose context travels on in the
output's headers. One request is then one trace across every service, dead letters included.

When this process records no spans (no SDK tracer provider installed), nothing is done at all:
no span objects, no header parsing.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind

from supportbus_runtime.telemetry import REQUEST_ID_ATTRIBUTE, tracing_installed

Headers = Sequence[tuple[str, bytes | None]]

_tracer = trace.get_tracer("supportbus.kafka")


class _RecordHeaders(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [v.decode("utf-8", "replace") for k, v in carrier if k == key and v is not None]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier]


_HEADERS = _RecordHeaders()
_NOTHING = nullcontext()


def consuming(record: Any, group: str, request_id: str) -> AbstractContextManager[object]:
    """The span one consumed record is processed in (a ConsumerRecord: topic, partition,
    offset, key, headers), continuing the trace its producer started and tagged with the
    request id, so `supportbus trace REQUEST_ID` finds it."""
    if not tracing_installed():
        return _NOTHING  # per record: not even a generator to step through
    parent = propagate.extract(record.headers, getter=_HEADERS)
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.message.offset": record.offset,
        "messaging.consumer.group.name": group,
        REQUEST_ID_ATTRIBUTE: request_id,
    }
    if record.key is not None:
        attributes["messaging.kafka.message.key"] = record.key
    return _tracer.start_as_current_span(
        f"{record.topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    )


def publishing(topic: str, headers: MutableMapping[str, str]) -> AbstractContextManager[object]:
    """The span a record is published in; its context is written into ``headers``."""
    if not tracing_installed():
        return _NOTHING
    return _publish_span(topic, headers)


@contextmanager
def _publish_span(topic: str, headers: MutableMapping[str, str]) -> Iterator[None]:
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation": "publish",
        "messaging.destination.name": topic,
    }
    with _tracer.start_as_current_span(
        f"{topic} publish", kind=SpanKind.PRODUCER, attributes=attributes
    ):
        propagate.inject(headers)
        yield
