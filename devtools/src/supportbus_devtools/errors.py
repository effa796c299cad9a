"""The errors the development tools raise, one subtree of the project's error tree.

    SupportbusError (supportbus_runtime.errors)
    └── DevtoolsError         a development server or the process stack let us down
        ├── LocalKafkaError   the local broker could not be fetched, formatted, started or reached
        ├── LocalWeaviateError  the local Weaviate could not be built, started or reached
        ├── ToxiproxyError    Toxiproxy could not be built, started or reached, or refused a call
        ├── StackError        a process of the stack failed to start or died
        └── NotReadyError     an HTTP endpoint did not answer 200 in time

One root so a caller (the CLI, a test fixture) can tell "the development environment failed"
from a bug with a single ``except``; each class stays importable from the module that raises it
(``supportbus_devtools.localkafka.LocalKafkaError`` and so on).
"""

from __future__ import annotations

from supportbus_runtime.errors import SupportbusError

__all__ = [
    "DevtoolsError",
    "LocalKafkaError",
    "LocalWeaviateError",
    "NotReadyError",
    "StackError",
    "ToxiproxyError",
]


class DevtoolsError(SupportbusError):
    """Base of every error the development tools raise on purpose."""


class LocalKafkaError(DevtoolsError):
    """The local broker could not be fetched, formatted, started or reached."""


class LocalWeaviateError(DevtoolsError):
    """The local Weaviate could not be built, started or reached."""


class ToxiproxyError(DevtoolsError):
    """Toxiproxy could not be built, started or reached, or its API refused a request;
    ``status`` is the API's HTTP status when it answered (404: no such proxy or toxic)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StackError(DevtoolsError):
    """A process of the stack failed to start or died."""


class NotReadyError(DevtoolsError):
    """An HTTP endpoint did not answer 200 before the deadline (``wait_until_http_ok``)."""
