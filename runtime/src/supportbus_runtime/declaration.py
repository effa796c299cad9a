"""How a service (or an agent) declares itself: what it consumes and, for each input, what it
may publish — written once, in one module per service, that needs nothing but the contracts.

    CLASSIFIED = Output(REQUEST_CLASSIFIED, RequestClassified)
    RECEIVED = Input(REQUEST_RECEIVED, RequestReceived, outputs=(CLASSIFIED,))
    DECLARATION = ServiceDeclaration("classifier", inputs=(RECEIVED,))

The declaration names no handler, so it can be read without building the service: the AsyncAPI
documents are generated from it alone (no settings, model, index or broker). The composition root
gives each input its handler (``RECEIVED.handled_by(on_request_received)``, a :class:`Route`) and
hands the routes to :func:`supportbus_runtime.app.build_service_app`, which checks that they are
exactly the declared inputs. A handler publishes through the declared output
(``CLASSIFIED.publish(event)``), so topic and event type are written once, and a publication the
route did not declare raises :class:`UndeclaredOutput` (the record is dead-lettered), which every
service test that runs its handler would show.

This module imports only the contracts: it sits below everything else in the runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from supportbus_contracts.envelope import Event

E = TypeVar("E", bound=Event)
P = TypeVar("P", bound=Event)


@dataclass(frozen=True)
class Publication:
    """An output event and the topic it goes to (unprefixed: the consumer adds the prefix)."""

    topic: str
    event: Event


Handler = Callable[[E], Awaitable[Sequence[Publication]]]


class UndeclaredOutput(TypeError):
    """A handler published what its route does not declare: a bug, never worth a retry."""


@dataclass(frozen=True)
class Output(Generic[P]):
    """One produced topic and the event it carries."""

    topic: str
    event_type: type[P]

    def publish(self, event: P) -> Publication:
        """The publication of ``event`` here; typed, so a wrong event type fails mypy."""
        return Publication(self.topic, event)


@dataclass(frozen=True)
class Input(Generic[E]):
    """One consumed topic, the event it carries and the outputs its handler may publish."""

    topic: str
    event_type: type[E]
    outputs: tuple[Output[Any], ...] = ()

    def handled_by(self, handler: Handler[E]) -> Route[E]:
        return Route(self.topic, self.event_type, handler, self.outputs)


@dataclass(frozen=True)
class Route(Generic[E]):
    """A declared input with its handler: what a consumer runs."""

    topic: str
    event_type: type[E]
    handler: Handler[E]
    outputs: tuple[Output[Any], ...] = ()

    @property
    def input(self) -> Input[E]:
        return Input(self.topic, self.event_type, self.outputs)

    def checked(self) -> Route[E]:
        """This route with a handler that refuses publications the route does not declare."""
        declared = {output.topic: output.event_type for output in self.outputs}
        handler, topic = self.handler, self.topic

        async def publishing_only_declared(event: E) -> Sequence[Publication]:
            publications = await handler(event)
            for publication in publications:
                expected = declared.get(publication.topic)
                if expected is None or not isinstance(publication.event, expected):
                    raise UndeclaredOutput(
                        f"the handler of {topic} published {type(publication.event).__name__} "
                        f"to {publication.topic}, which its route does not declare"
                    )
            return publications

        return replace(self, handler=publishing_only_declared)


@dataclass(frozen=True)
class ServiceDeclaration:
    """A service's name (its consumer group is ``supportbus-<name>``, its events' producer) and
    its inputs, each with its outputs."""

    name: str
    inputs: tuple[Input[Any], ...]

    def __post_init__(self) -> None:
        topics = [i.topic for i in self.inputs]
        if len(set(topics)) != len(topics):
            raise ValueError(f"{self.name}: an input topic is declared twice: {topics}")

    @property
    def outputs(self) -> tuple[Output[Any], ...]:
        """Every output of every input, once each, in the order declared."""
        return tuple(dict.fromkeys(o for i in self.inputs for o in i.outputs))

    def routes(self, routes: Iterable[Route[Any]]) -> tuple[Route[Any], ...]:
        """``routes`` in declared order, each checked (:meth:`Route.checked`), once they are
        shown to be exactly the declared inputs: each once, with its declared outputs."""
        given = list(routes)
        by_topic = {route.topic: route for route in given}
        declared = {i.topic: i for i in self.inputs}
        if len(by_topic) != len(given) or {t: r.input for t, r in by_topic.items()} != declared:
            raise ValueError(
                f"{self.name}: the routes {[r.topic for r in given]} are not the declared "
                f"inputs {list(declared)}, each once with its declared outputs"
            )
        return tuple(by_topic[topic].checked() for topic in declared)
