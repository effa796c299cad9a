"""How a `supportbus` command ends when it fails: the one place that turns an exception into a
message on stderr and an exit code, for every command of the app.

``ErrorTranslatingGroup`` is the root command group's class (``typer.Typer(cls=...)`` in
``main``); every command, of every sub-app, runs inside its ``invoke``, so no command catches
errors of its own. What it translates:

==========================================  =====  ===========================================
raised                                      exit   printed
==========================================  =====  ===========================================
ConfigurationError (and what maps to it)      2    ``error: <message>``: fix the input first
any other SupportbusError (and what maps)     1    ``error: <message>``: the operation failed
KeyboardInterrupt (Ctrl-C, SIGTERM in run)  130    ``interrupted``
click usage errors (bad options)              2    click's usage message
anything else: a bug                          1    the traceback, unchanged
==========================================  =====  ===========================================

Library errors the CLI's work meets at its edges are translated to ours first (``translate``):
Kafka's, httpx's, OSError and pydantic's ValidationError. A bare ValueError is not among
them: the commands' own modules refuse bad arguments with ConfigurationError, so a ValueError
that escapes is a bug and keeps its traceback. Messages
never echo a payload or a secret: validation errors are shown without their input, URLs without
credentials or query, and the whole line goes through the PII redaction the logs use. With
``SUPPORTBUS_LOG_LEVEL=DEBUG`` the traceback behind a message is logged too.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import typer
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError
from rich.text import Text
from typer._click import Context  # typer vendors click; its groups take this, not typer.Context
from typer.core import TyperGroup

from supportbus_cli.progress import console
from supportbus_runtime.errors import (
    ConfigurationError,
    PermanentError,
    SupportbusError,
    TransientError,
)
from supportbus_runtime.pii import redact

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2  # click's own code for bad options: "fix how you called it"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


class ServerExited(SupportbusError):
    """A server a `run` command was serving (Kafka, Weaviate) exited on its own."""


def exit_code(error: SupportbusError) -> int:
    return EXIT_USAGE if isinstance(error, ConfigurationError) else EXIT_FAILED


def translate(error: BaseException) -> SupportbusError | None:
    """Ours for ``error`` (itself if it is ours already); None for what must stay a bug."""
    if isinstance(error, SupportbusError):
        return error
    if isinstance(error, ValidationError):  # before ValueError: it is one
        return ConfigurationError(f"invalid {error.title}: {_validation_problems(error)}")
    if isinstance(error, KafkaConnectionError):
        return TransientError(f"cannot reach Kafka: {error}")
    if isinstance(error, KafkaError):
        return TransientError(f"Kafka: {type(error).__name__}: {error}")
    if isinstance(error, httpx.HTTPError):
        return _http_error(error)
    if isinstance(error, OSError):
        return _os_error(error)
    return None


def _validation_problems(error: ValidationError) -> str:
    # include_input=False: the rejected value may be a secret or a customer's message.
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
        for e in error.errors(include_input=False, include_url=False)
    )


def _http_error(error: httpx.HTTPError) -> SupportbusError:
    try:
        request = error.request
    except RuntimeError:  # httpx raises when no request was attached
        return TransientError(f"HTTP: {type(error).__name__}: {error}")
    url = request.url  # shown without credentials, query or fragment
    where = f"{request.method} {url.scheme}://{url.host}{f':{url.port}' if url.port else ''}"
    where += url.path
    if isinstance(error, httpx.HTTPStatusError):
        status = error.response.status_code
        answered = f"{where} answered HTTP {status}"
        return TransientError(answered) if status >= 500 else PermanentError(answered)
    return TransientError(f"{where} failed: {type(error).__name__}: {error}")


def _os_error(error: OSError) -> SupportbusError:
    what = error.strerror or str(error) or type(error).__name__
    if error.filename is not None:
        what = f"{what}: {error.filename}"
    if isinstance(error, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return ConfigurationError(what)  # a path the user gave: fix it, run again
    if isinstance(error, ConnectionError | TimeoutError):
        return TransientError(what)
    return PermanentError(what)


def quiet_what_is_reported() -> None:
    """After logging is configured: at the CLI's default level (WARNING), the Kafka client's
    own ERROR lines (one per refused connection) would only repeat, as noise around it, the
    one message ``report`` prints. From INFO down (``SUPPORTBUS_LOG_LEVEL``) they show."""
    if logging.getLogger().level >= logging.WARNING:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def report(error: SupportbusError) -> int:
    """Print ``error: <message>`` on stderr; returns the exit code."""
    message = redact(str(error) or type(error).__name__)
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    return exit_code(error)


class ErrorTranslatingGroup(TyperGroup):
    """The root group: runs the whole command line and translates what escapes it."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own outcomes (usage errors too): it prints and exits as always
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:
            ours = translate(error)
            if ours is None:
                raise
            log.debug("the command failed", exc_info=error)
            raise typer.Exit(report(ours)) from None
