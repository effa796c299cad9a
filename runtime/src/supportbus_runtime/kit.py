"""The agent kit: everything a service (one of the four core ones, or an agent a third party
writes) imports to join the bus, in one module.

An agent is a package with four small modules, exactly like the core services:

``events.py``
    Its own events, on the contracts' :class:`Event` base (past-tense names, a ``version``
    default ``"1.0"``), exported as JSON Schemas and guarded by
    :func:`supportbus_contracts.schemas.compatibility_problems` in its tests.
``declaration.py``
    What it consumes and publishes, written once::

        GAP_FOUND = Output("support.knowledge.gap_found.v1", KnowledgeGapFound)
        RETRIEVED = Input(KNOWLEDGE_RETRIEVED, KnowledgeRetrieved, outputs=(GAP_FOUND,))
        DECLARATION = ServiceDeclaration("kb-gaps", inputs=(RETRIEVED,))

``settings.py``
    A :class:`ServiceSettings` subclass with its own env prefix (``KB_GAPS_``); the only place
    that reads the environment.
``app.py``
    The composition root, ``build_app(settings) -> ServiceApp``: give each input its handler
    (``RETRIEVED.handled_by(on_retrieved)``) and call :func:`build_service_app`. A handler is
    ``async (event) -> [OUTPUT.publish(new_event), ...]``; it raises a :class:`TransientError`
    to be retried (backoff, then the dead-letter topic) and anything else to be dead-lettered
    at once, with its reason in the record's headers.

``run_service("kb-gaps", KbGapsSettings, build_app)`` is the console entry point's body.

What the agent gets without writing it: its own consumer group (``supportbus-<name>``, so it
sees every event without taking any from the core services), key-ordered concurrent delivery
with commits of the completed prefix only, retries and dead letters, topic creation, tracing
(W3C context across hops), Prometheus metrics and ``/healthz``, ``/readyz``, ``/metrics`` on
``<PREFIX>HTTP_PORT``, and its AsyncAPI document: ``supportbus asyncapi`` writes one for every
installed package that names its declaration under the ``supportbus.declarations`` entry point
group (``[project.entry-points."supportbus.declarations"]`` in its pyproject.toml, ``kb-gaps =
"supportbus_kb_gaps.declaration:DECLARATION"``). ``supportbus new-agent NAME`` writes such a
package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supportbus_contracts.envelope import Event
from supportbus_runtime.declaration import (
    Handler,
    Input,
    Output,
    Publication,
    Route,
    ServiceDeclaration,
    UndeclaredOutput,
)
from supportbus_runtime.errors import (
    ConfigurationError,
    MessageRejected,
    PermanentError,
    SupportbusError,
    TransientError,
)

if TYPE_CHECKING:
    from supportbus_runtime.app import ServiceApp, build_service_app, run_service
    from supportbus_runtime.metrics import DeliveryMetrics
    from supportbus_runtime.settings import ServiceSettings
    from supportbus_runtime.telemetry import tracer

# A declaration module imports this kit too, and must stay cheap to import (AsyncAPI documents
# are generated from declarations with no broker, model or FastStream app): what builds and
# runs a service is imported on first use.
_LAZY = {
    "ServiceApp": "supportbus_runtime.app",
    "build_service_app": "supportbus_runtime.app",
    "run_service": "supportbus_runtime.app",
    "DeliveryMetrics": "supportbus_runtime.metrics",
    "ServiceSettings": "supportbus_runtime.settings",
    "tracer": "supportbus_runtime.telemetry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ConfigurationError",
    "DeliveryMetrics",
    "Event",
    "Handler",
    "Input",
    "MessageRejected",
    "Output",
    "PermanentError",
    "Publication",
    "Route",
    "ServiceApp",
    "ServiceDeclaration",
    "ServiceSettings",
    "SupportbusError",
    "TransientError",
    "UndeclaredOutput",
    "build_service_app",
    "run_service",
    "tracer",
]
