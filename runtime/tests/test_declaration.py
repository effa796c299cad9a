"""A service's declaration: the outputs its handlers may publish, and the routes it must have."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import RequestClassified, RequestReceived, SupportRequest
from supportbus_contracts.topics import DLQ_HEADER_ERROR_TYPE
from supportbus_devtools.testing import classified, record_topic
from supportbus_runtime.app import build_service_app
from supportbus_runtime.declaration import (
    Input,
    Output,
    Publication,
    Route,
    ServiceDeclaration,
    UndeclaredOutput,
)
from supportbus_runtime.settings import ServiceSettings

IN, OUT, OTHER = "in.v1", "out.v1", "other.v1"
CLASSIFIED = Output(OUT, RequestClassified)
RECEIVED = Input(IN, RequestReceived, outputs=(CLASSIFIED,))
DECLARATION = ServiceDeclaration("svc", inputs=(RECEIVED,))


def _event() -> RequestReceived:
    return RequestReceived(
        request_id="req-1", request=SupportRequest(channel="chat", customer_id="c1", body="Hi")
    )


def _classified(event: RequestReceived) -> RequestClassified:
    return classified(event, producer="svc")


async def _declared(event: RequestReceived) -> Sequence[Publication]:
    return [CLASSIFIED.publish(_classified(event))]


async def _to_undeclared_topic(event: RequestReceived) -> Sequence[Publication]:
    return [Publication(OTHER, _classified(event))]


async def _wrong_event_type(event: RequestReceived) -> Sequence[Publication]:
    return [Publication(OUT, event)]


def test_output_publish_names_the_declared_topic() -> None:
    publication = CLASSIFIED.publish(_classified(_event()))
    assert publication.topic == OUT
    assert isinstance(publication.event, RequestClassified)


async def test_declared_publication_passes_the_check_unchanged() -> None:
    (route,) = DECLARATION.routes([RECEIVED.handled_by(_declared)])
    (publication,) = await route.handler(_event())
    assert publication.topic == OUT


@pytest.mark.parametrize("handler", [_to_undeclared_topic, _wrong_event_type])
async def test_publishing_what_the_route_does_not_declare_is_an_error(handler: object) -> None:
    (route,) = DECLARATION.routes([RECEIVED.handled_by(handler)])  # type: ignore[arg-type]
    with pytest.raises(UndeclaredOutput, match=IN):
        await route.handler(_event())


async def test_record_whose_handler_publishes_undeclared_output_is_dead_lettered() -> None:
    service_app = build_service_app(
        DECLARATION, ServiceSettings(), [RECEIVED.handled_by(_to_undeclared_topic)]
    )
    other, dlq = (
        record_topic(service_app.broker, OTHER),
        record_topic(service_app.broker, IN + ".dlq"),
    )
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(_event().model_dump_json().encode(), IN)
    assert other == []
    assert [m.headers[DLQ_HEADER_ERROR_TYPE] for m in dlq] == ["UndeclaredOutput"]


def test_routes_must_be_exactly_the_declared_inputs() -> None:
    handled = RECEIVED.handled_by(_declared)
    undeclared = Input(OTHER, RequestReceived).handled_by(_declared)
    other_outputs = Route(IN, RequestReceived, _declared, outputs=())
    for routes in ([], [handled, handled], [handled, undeclared], [other_outputs]):
        with pytest.raises(ValueError, match="declared inputs"):
            DECLARATION.routes(routes)


def test_an_input_topic_is_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        ServiceDeclaration("svc", inputs=(RECEIVED, Input(IN, RequestReceived)))


def test_service_outputs_are_each_output_once_in_declared_order() -> None:
    other = Output(OTHER, RequestClassified)
    declaration = ServiceDeclaration(
        "svc",
        inputs=(
            Input(IN, RequestReceived, outputs=(CLASSIFIED, other)),
            Input("in2.v1", RequestReceived, outputs=(other,)),
        ),
    )
    assert declaration.outputs == (CLASSIFIED, other)


def test_app_of_a_declaration_knows_its_name_routes_and_outputs() -> None:
    service_app = build_service_app(
        DECLARATION, ServiceSettings(), [RECEIVED.handled_by(_declared)]
    )
    assert service_app.service == "svc"
    assert [r.topic for r in service_app.routes] == [IN]
    assert service_app.outputs == (CLASSIFIED,)


def test_declaration_and_operations_import_neither_the_app_nor_each_other() -> None:
    code = (
        "import sys, supportbus_runtime.declaration as d, supportbus_runtime.operations; "
        "print(sorted(m for m in sys.modules if m.startswith('supportbus_runtime.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = result.stdout.split("'")[1::2]
    assert "supportbus_runtime.app" not in loaded
    assert "supportbus_runtime.declaration" in loaded


async def test_what_the_service_holds_is_closed_once_in_order_after_shutdown() -> None:
    closed: list[str] = []

    async def close_pool() -> None:
        closed.append("pool")

    def close_failing() -> None:
        closed.append("failing")
        raise RuntimeError("the connection was already gone")

    service_app = build_service_app(
        DECLARATION,
        ServiceSettings(),
        [RECEIVED.handled_by(_declared)],
        closing=[close_failing, None, close_pool],
    )
    await service_app.app.stop()  # the shutdown a SIGTERM runs: drain, stop, then close
    await service_app.aclose()  # a second close (a test's own) closes nothing twice
    assert closed == ["failing", "pool"]  # the failing close did not keep the pool open
