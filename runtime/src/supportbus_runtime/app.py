"""Building and running a service: the part of every composition root that is the same.

What a service consumes and publishes is its declaration (:mod:`supportbus_runtime.declaration`);
:func:`build_service_app` gives it a broker, consumers with the shared delivery policy, metrics,
spans and its topics.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from pydantic import ValidationError

from supportbus_contracts.topics import dead_letter_topic
from supportbus_runtime.broker import build_broker, check_topics, ensure_topics
from supportbus_runtime.declaration import Input, Output, Route, ServiceDeclaration
from supportbus_runtime.delivery import DeliveryPolicy, EventConsumer
from supportbus_runtime.dispatcher import DispatchLimits
from supportbus_runtime.errors import ConfigurationError, SupportbusError
from supportbus_runtime.logs import configure_logging
from supportbus_runtime.metrics import DeliveryMetrics
from supportbus_runtime.settings import ServiceSettings
from supportbus_runtime.telemetry import install_tracing

# Route and Output are declared in supportbus_runtime.declaration; named here too for callers
# that build a service on the fly (tests/integration, benchmarks/busbench).
__all__ = ["Output", "Route", "ServiceApp", "build_service_app", "delivery_policy", "run_service"]

S = TypeVar("S", bound=ServiceSettings)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceApp:
    declaration: ServiceDeclaration
    app: FastStream
    broker: KafkaBroker
    consumers: tuple[EventConsumer[Any], ...]
    metrics: DeliveryMetrics
    routes: tuple[Route[Any], ...]  # as they run: each handler checked against its outputs
    # What stopped the start (refused credentials, denied ACLs), for run_service to report:
    # uvicorn's lifespan swallows the exception itself.
    startup_failures: list[SupportbusError] = field(default_factory=list)
    # What the service holds open (connection pools, batching workers), closed in this order
    # once the consumers drained and the broker stopped. Emptied as it is closed.
    closing: list[Callable[[], object]] = field(default_factory=list)

    @property
    def service(self) -> str:
        return self.declaration.name

    async def aclose(self) -> None:
        """Close what the service holds, once; the app calls it after shutdown. A test that
        drives only the broker (``TestKafkaBroker`` runs none of the app's hooks) calls it
        itself, or the pools are reported unclosed when the interpreter exits."""
        while self.closing:
            close = self.closing.pop(0)
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one failing close must not leave the others open
                log.exception("closing %s failed", getattr(close, "__qualname__", close))

    @property
    def outputs(self) -> tuple[Output[Any], ...]:
        return self.declaration.outputs


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
            fetch_wait_ms=settings.fetch_wait_ms,
            commit_interval_s=settings.commit_interval_ms / 1000,
            commit_every=settings.commit_every,
            revoke_timeout_s=settings.revoke_timeout_s,
            shutdown_timeout_s=settings.shutdown_timeout_s,
        ),
    )


def build_service_app(
    service: ServiceDeclaration,
    settings: ServiceSettings,
    routes: Iterable[Route[Any]],
    *,
    metrics: DeliveryMetrics | None = None,
    closing: Iterable[Callable[[], object] | None] = (),
) -> ServiceApp:
    """A FastStream app whose consumers follow the shared delivery policy, traced (W3C context
    in Kafka headers) and measured, and which creates its topics (inputs, their dead-letter
    topics, outputs) before it subscribes.

    ``service`` is the service's declaration and ``routes`` its inputs with their handlers
    (:meth:`ServiceDeclaration.routes` checks they match). ``closing`` are the ``aclose`` (or
    ``close``) of what the handlers use, called in order after shutdown, when nothing submits
    any more; None entries (a client not configured) are skipped."""
    declaration, checked = service, service.routes(routes)
    name = declaration.name
    metrics = metrics or DeliveryMetrics()
    # FastStream's consume series count fetched records (a batch at a time). Spans and W3C
    # context are the runtime's own, per record (supportbus_runtime.record_tracing).
    middlewares: list[Any] = [KafkaPrometheusMiddleware(registry=metrics.registry, app_name=name)]
    broker = build_broker(
        settings,
        client_id=name,
        middlewares=middlewares,
    )
    policy = delivery_policy(settings)
    consumers = []
    for index, route in enumerate(checked):
        consumer = EventConsumer(
            service=name,
            topic=settings.topic(route.topic),
            event_type=route.event_type,
            handler=route.handler,
            broker=broker,
            policy=policy,
            topic_prefix=settings.topic_prefix,
            metrics=metrics,
        )
        consumer.subscribe(
            group_id=settings.effective_group_id(name),
            group_instance_id=_instance_id(settings.group_instance_id, index, len(checked)),
        )
        consumers.append(consumer)
    topics = _topics(declaration.inputs, declaration.outputs, settings)

    startup_failures: list[SupportbusError] = []

    async def create_topics() -> None:
        try:
            await _prepare_topics(topics, settings)
        except ConfigurationError as error:
            startup_failures.append(error)
            raise

    async def drain_consumers() -> None:
        # Before the broker stops: in-flight records finish (bounded) and their offsets commit.
        await asyncio.gather(*(consumer.close() for consumer in consumers))

    app = FastStream(
        broker,
        on_startup=[create_topics],
        on_shutdown=[drain_consumers],
        logger=logging.getLogger(name),
    )
    service_app = ServiceApp(
        declaration=declaration,
        app=app,
        broker=broker,
        consumers=tuple(consumers),
        metrics=metrics,
        routes=checked,
        startup_failures=startup_failures,
        closing=[close for close in closing if close is not None],
    )
    app.after_shutdown(service_app.aclose)
    return service_app


async def _prepare_topics(topics: list[str], settings: ServiceSettings) -> None:
    # Either way the broker is asked first, so credentials or ACLs it refuses stop the service
    # at start with one clear line instead of a consumer that silently fetches nothing.
    if settings.create_topics:
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            topics,
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            security=settings,
        )
    else:
        await check_topics(settings.kafka_bootstrap_servers, topics, security=settings)


def _topics(
    inputs: Sequence[Input[Any]], outputs: Sequence[Output[Any]], settings: ServiceSettings
) -> list[str]:
    """What the service creates at start: its inputs, their dead-letter topics, its outputs."""
    consumed = [settings.topic(i.topic) for i in inputs]
    return [
        *consumed,
        *(dead_letter_topic(t) for t in consumed),
        *(settings.topic(o.topic) for o in outputs),
    ]


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
    except SupportbusError as error:
        # Any error of ours at start (a missing model, an unreachable vector store): one line,
        # no traceback; 2 for a configuration to fix, 1 for what may pass (as in the CLI).
        print(f"supportbus-{service}: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2 if isinstance(error, ConfigurationError) else 1) from error
    log.info("%s starting on %s", service, settings.kafka_bootstrap_servers)
    try:
        if settings.http_port:
            from supportbus_runtime.operations import serve_with_operations

            asyncio.run(serve_with_operations(service_app, settings.http_host, settings.http_port))
        else:
            asyncio.run(service_app.app.run())
        if service_app.startup_failures:
            raise service_app.startup_failures[0]
    except SupportbusError as error:
        print(f"supportbus-{service}: cannot start: {error}", file=sys.stderr)
        raise SystemExit(2 if isinstance(error, ConfigurationError) else 1) from None
    finally:
        if provider is not None:
            provider.shutdown()  # flush the spans still batched
