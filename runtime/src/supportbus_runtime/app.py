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
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from pydantic import ValidationError

from supportbus_contracts.envelope import Event
from supportbus_contracts.topics import dead_letter_topic
from supportbus_runtime.broker import build_broker, ensure_topics
from supportbus_runtime.delivery import DeliveryPolicy, EventConsumer, Handler
from supportbus_runtime.dispatcher import DispatchLimits
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.logs import configure_logging
from supportbus_runtime.metrics import DeliveryMetrics
from supportbus_runtime.settings import ServiceSettings
from supportbus_runtime.telemetry import install_tracing, tracing_installed

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
class Output:
    """One produced topic and the event it carries (for topic creation and the AsyncAPI doc)."""

    topic: str
    event_type: type[Event]


@dataclass(frozen=True)
class ServiceApp:
    service: str
    app: FastStream
    broker: KafkaBroker
    consumers: tuple[EventConsumer[Any], ...]
    metrics: DeliveryMetrics
    routes: tuple[Route[Any], ...]
    outputs: tuple[Output, ...]


def delivery_policy(settings: ServiceSettings) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_attempts=settings.retry_attempts,
        initial_backoff_s=settings.retry_initial_backoff_s,
        max_backoff_s=settings.retry_max_backoff_s,
        retry_budget_s=settings.retry_budget_s,
        max_message_bytes=settings.max_message_bytes,
        limits=DispatchLimits(
            max_in_flight=settings.max_in_flight,
            max_per_partition=settings.max_in_flight_per_partition,
            commit_interval_s=settings.commit_interval_ms / 1000,
            commit_every=settings.commit_every,
            revoke_timeout_s=settings.revoke_timeout_s,
            shutdown_timeout_s=settings.shutdown_timeout_s,
        ),
    )


def build_service_app(
    *,
    service: str,
    settings: ServiceSettings,
    routes: Sequence[Route[Any]],
    outputs: Sequence[Output],
    metrics: DeliveryMetrics | None = None,
) -> ServiceApp:
    """A FastStream app whose consumers follow the shared delivery policy, traced (W3C context
    in Kafka headers) and measured, and which creates its topics (inputs, their dead-letter
    topics, outputs) before it subscribes."""
    metrics = metrics or DeliveryMetrics()
    middlewares: list[Any] = [
        KafkaPrometheusMiddleware(registry=metrics.registry, app_name=service)
    ]
    if tracing_installed():
        # Spans and W3C context in Kafka headers. Only when this process records spans: the
        # middleware costs about a third of a no-op hop's CPU even with nothing to record.
        middlewares.insert(0, KafkaTelemetryMiddleware())
    broker = build_broker(
        settings,
        client_id=service,
        middlewares=middlewares,
    )
    policy = delivery_policy(settings)
    consumers = []
    for index, route in enumerate(routes):
        consumer = EventConsumer(
            service=service,
            topic=settings.topic(route.topic),
            event_type=route.event_type,
            handler=route.handler,
            broker=broker,
            policy=policy,
            topic_prefix=settings.topic_prefix,
            metrics=metrics,
        )
        consumer.subscribe(
            group_id=settings.effective_group_id(service),
            group_instance_id=_instance_id(settings.group_instance_id, index, len(routes)),
        )
        consumers.append(consumer)
    consumed = [settings.topic(r.topic) for r in routes]
    topics = [
        *consumed,
        *(dead_letter_topic(t) for t in consumed),
        *(settings.topic(o.topic) for o in outputs),
    ]

    async def create_topics() -> None:
        if settings.create_topics:
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                topics,
                partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )

    async def drain_consumers() -> None:
        # Before the broker stops: in-flight records finish (bounded) and their offsets commit.
        await asyncio.gather(*(consumer.close() for consumer in consumers))

    app = FastStream(
        broker,
        on_startup=[create_topics],
        on_shutdown=[drain_consumers],
        logger=logging.getLogger(service),
    )
    return ServiceApp(
        service=service,
        app=app,
        broker=broker,
        consumers=tuple(consumers),
        metrics=metrics,
        routes=tuple(routes),
        outputs=tuple(outputs),
    )


def _instance_id(name: str, index: int, routes: int) -> str | None:
    """Each consumer of a process is its own group member: with several routes, each needs a
    static name of its own, or the broker would fence all but one."""
    if not name:
        return None
    return name if routes == 1 else f"{name}.{index}"


def run_service(
    service: str, load_settings: Callable[[], S], build_app: Callable[[S], ServiceApp]
) -> None:
    """Console entry point body: settings, logging, tracing, the app (with its operations
    endpoints when an HTTP port is set), and a clear exit when misconfigured."""
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
    configure_logging(settings.log_level, service, settings.log_format)
    provider = install_tracing(
        service,
        exporter=settings.telemetry_exporter,
        directory=settings.telemetry_dir,
        otlp_endpoint=settings.otlp_endpoint,
    )
    try:
        service_app = build_app(settings)
    except ConfigurationError as error:
        print(f"supportbus-{service}: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    log.info("%s starting on %s", service, settings.kafka_bootstrap_servers)
    try:
        if settings.http_port:
            from supportbus_runtime.operations import serve_with_operations

            asyncio.run(serve_with_operations(service_app, settings.http_host, settings.http_port))
        else:
            asyncio.run(service_app.app.run())
    finally:
        if provider is not None:
            provider.shutdown()  # flush the spans still batched
