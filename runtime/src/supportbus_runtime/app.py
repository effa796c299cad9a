"""Building and running a service: the part of every composition root that is the same."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from faststream import FastStream
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from supportbus_contracts.envelope import Event
from supportbus_contracts.topics import dead_letter_topic
from supportbus_runtime.broker import build_broker, ensure_topics
from supportbus_runtime.delivery import DeliveryPolicy, EventConsumer, Handler
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.logs import configure_logging
from supportbus_runtime.settings import ServiceSettings

E = TypeVar("E", bound=Event)
S = TypeVar("S", bound=ServiceSettings)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route(Generic[E]):
    """One consumed topic: which event it carries and what handles it."""

    topic: str
    event_type: type[E]
    handler: Handler[E]


@dataclass(frozen=True)
class ServiceApp:
    app: FastStream
    broker: KafkaBroker
    consumers: tuple[EventConsumer[Any], ...]


def delivery_policy(settings: ServiceSettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_attempts=settings.retry_attempts,
        initial_backoff_s=settings.retry_initial_backoff_s,
        max_backoff_s=settings.retry_max_backoff_s,
        max_message_bytes=settings.max_message_bytes,
    )


def build_service_app(
    *,
    service: str,
    settings: ServiceSettings,
    routes: Sequence[Route[Any]],
    produces: Sequence[str],
) -> ServiceApp:
    """A FastStream app whose consumers follow the shared delivery policy, and which creates
    its topics (inputs, their dead-letter topics, outputs) before it subscribes."""
    broker = build_broker(settings, client_id=service)
    policy = delivery_policy(settings)
    consumers = []
    for route in routes:
        consumer = EventConsumer(
            service=service,
            topic=settings.topic(route.topic),
            event_type=route.event_type,
            handler=route.handler,
            broker=broker,
            policy=policy,
            topic_prefix=settings.topic_prefix,
        )
        consumer.subscribe(group_id=settings.effective_group_id(service))
        consumers.append(consumer)
    consumed = [settings.topic(r.topic) for r in routes]
    topics = (
        consumed + [dead_letter_topic(t) for t in consumed] + [settings.topic(t) for t in produces]
    )

    async def create_topics() -> None:
        if settings.create_topics:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                topics,
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )

    app = FastStream(broker, on_startup=[create_topics], logger=logging.getLogger(service))
    return ServiceApp(app=app, broker=broker, consumers=tuple(consumers))


def run_service(
    service: str, load_settings: Callable[[], S], build_app: Callable[[S], ServiceApp]
) -> None:
    """Console entry point body: settings, logging, the app, and a clear exit when misconfigured."""
    try:
        settings = load_settings()
    except ValidationError as error:
        # Values are not echoed: a setting may be a secret.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        print(f"supportbus-{service}: invalid settings: {problems}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, service)
    try:
        service_app = build_app(settings)
    except ConfigurationError as error:
        print(f"supportbus-{service}: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    log.info("%s starting on %s", service, settings.kafka_bootstrap_servers)
    asyncio.run(service_app.app.run())
