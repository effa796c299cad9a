"""The HTTP side of a service, for operators and orchestrators: liveness, readiness, metrics."""

from __future__ import annotations

from typing import Any, Protocol

import uvicorn
from faststream import FastStream
from faststream.asgi import AsgiResponse, get
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from supportbus_runtime.errors import SupportbusError
from supportbus_runtime.metrics import DeliveryMetrics


class Operated(Protocol):
    """What the endpoints need of a service (a ``supportbus_runtime.app.ServiceApp``), named
    here so that this module does not import the one that starts it."""

    @property
    def app(self) -> FastStream: ...

    @property
    def broker(self) -> KafkaBroker: ...

    @property
    def metrics(self) -> DeliveryMetrics: ...

    @property
    def startup_failures(self) -> list[SupportbusError]: ...


def operations_routes(service_app: Operated) -> list[tuple[str, Any]]:
    broker = service_app.broker

    @get(include_in_schema=False)
    async def liveness(scope: Any) -> AsgiResponse:
        return AsgiResponse(b"ok\n", status_code=200)

    @get(include_in_schema=False)
    async def readiness(scope: Any) -> AsgiResponse:
        # Models and indexes are loaded before the app exists; what remains is the broker.
        if await broker.ping(timeout=2.0):
            return AsgiResponse(b"ready\n", status_code=200)
        return AsgiResponse(b"broker unreachable\n", status_code=503)

    return [
        ("/healthz", liveness),
        ("/readyz", readiness),
        ("/metrics", make_asgi_app(service_app.metrics.registry)),
    ]


async def serve_with_operations(service_app: Operated, host: str, port: int) -> None:
    """Run the consumers and the HTTP endpoints in one process; uvicorn handles SIGTERM and
    the ASGI lifespan starts and stops the broker."""
    asgi = service_app.app.as_asgi(asgi_routes=operations_routes(service_app))
    config = uvicorn.Config(
        asgi, host=host, port=port, log_config=None, access_log=False, lifespan="on"
    )
    try:
        await uvicorn.Server(config).serve()
    except SystemExit:
        # uvicorn exits when the lifespan start fails; say what failed, if it was ours.
        if service_app.startup_failures:
            raise service_app.startup_failures[0] from None
        raise
