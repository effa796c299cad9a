"""The foreground life of a `run` command (``kafka run``, ``weaviate run``), written once so
both end the same way: start the server, say where it listens, then wait until Ctrl-C (or
SIGTERM) stops it cleanly, exit 0, or until it dies on its own, an error with its exit status
and log (``ServerExited``, exit 1 through ``supportbus_cli.errors``)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from supportbus_cli.errors import ServerExited
from supportbus_cli.progress import console
from supportbus_devtools.processes import stop_on_sigterm


class Server(Protocol):
    """What a `run` command needs of a server (the public API of LocalKafka, LocalWeaviate)."""

    def start(self) -> None: ...

    def is_running(self) -> bool: ...

    def stop(self) -> None: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def log_file(self) -> Path: ...


def exit_status(code: int | None) -> str:
    """``code`` as a person reads it: a negative return code is the signal that ended it."""
    if code is None:
        return "an unknown status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def serve(
    server: Server,
    name: str,
    where: Callable[[], str],
    *,
    hint: Callable[[], str] | None = None,
    poll_s: float = 1.0,
) -> None:
    """Start ``server`` and block until Ctrl-C (returns after a clean stop) or until it exits
    on its own (raises ServerExited). Once it is up, prints ``where()`` it listens and the
    ``hint()`` lines (how to use it), called only then since a port may be picked by the start.
    A failed start raises the server's own error."""
    # The server runs in its own session, so Ctrl-C reaches only us: make SIGTERM (kill,
    # systemd, a supervisor) the same clean stop, or the server would outlive this command.
    stop_on_sigterm()
    server.start()  # a Ctrl-C meanwhile: the server stops itself, the CLI reports it (130)
    interrupted = False
    try:
        console.print(f"{name} ready at {where()}; Ctrl-C stops it", soft_wrap=True)
        if hint is not None:
            console.print(hint(), soft_wrap=True)
        while server.is_running():
            time.sleep(poll_s)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        server.stop()  # also after it died: reaps what the process left behind
    if interrupted:
        console.print(f"{name} stopped")
        return
    raise ServerExited(
        f"{name} stopped on its own ({exit_status(server.returncode)}); see {server.log_file}"
    )
