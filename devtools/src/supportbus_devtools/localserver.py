"""What the local development servers (Kafka, Weaviate, Toxiproxy) share: one start lifecycle.

Each server differs only in what it runs, how it tells it is ready, and what must happen before
the first start (fetch jars and format storage, build a binary); everything else (refusing a
taken port or a data dir another live server holds, logging to files, waiting for readiness
with a clear error when the process dies or the deadline passes, stopping) is here once.
"""

from __future__ import annotations

import abc
import fcntl
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Literal, Self

from supportbus_devtools._kafka_config import HOST
from supportbus_devtools._kafka_probe import port_taken
from supportbus_devtools.errors import DevtoolsError
from supportbus_devtools.processes import ChildProcess, read_lines, say

__all__ = ["LocalServer", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where fetched jars and built binaries are kept across runs and checkouts."""
    return Path.home() / ".cache" / "supportbus"


class LocalServer(ChildProcess, abc.ABC):
    """A server run as our child process on 127.0.0.1; ``with Server(...) as s:`` starts and
    stops it. Subclasses supply ``_prepare()`` (the preparation, returning the command line)
    and ``_ready()`` (the readiness probe), and set the class attributes below."""

    label: ClassVar[str] = "server"  # in messages: "... in use by another running <label>"
    tag: ClassVar[str] = "server"  # progress lines on stderr, and the output file's name
    error: ClassVar[type[DevtoolsError]] = DevtoolsError  # what start() raises
    start_timeout_s: ClassVar[float] = 60.0
    poll_interval_s: ClassVar[float] = 0.2
    # The file (under the data dir) a live server keeps locked, and with which kind of lock:
    # POSIX record locks (the JVM's) and BSD flock (Go's bbolt) do not see each other on Linux.
    lock_file: ClassVar[str | None] = None
    lock_kind: ClassVar[Literal["lockf", "flock"]] = "flock"

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir.expanduser().resolve()

    @property
    def log_file(self) -> Path:
        """The server's own log, where to look when something is off."""
        return self._output

    @property
    def _output(self) -> Path:
        """Where the process's stdout and stderr go (one run per file)."""
        return self._data_dir / f"{self.tag}.out"

    @abc.abstractmethod
    def _prepare(self) -> list[str]:
        """Whatever must exist before the process starts (jars, a binary, formatted storage,
        config files); returns the command line. Runs only once the ports were found free."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """True once the server serves its clients (not merely listens)."""

    def _describe(self) -> str:
        """What is starting, where, for the progress line."""
        return self.label

    def _ports(self) -> Mapping[str, int]:
        """The ports it will listen on, by name for the error message."""
        return {}

    def _environment(self) -> Mapping[str, str] | None:
        """The process's environment; None inherits ours."""
        return None

    def _error_lines(self, lines: list[str]) -> list[str]:
        """The log lines that explain a failure, shown apart: the cause is rarely in the tail."""
        return []

    def _readable(self, line: str) -> str:
        """A log line as shown in an error message."""
        return line

    def start(self, timeout: float | None = None) -> None:
        """Prepare if needed, start the server and block until it is ready. ``timeout``
        (default ``start_timeout_s``) bounds the start, not a first download or build; on any
        failure the process is stopped again and ``error`` raised with the log tails."""
        if self.is_running():
            return
        self.stop()  # reap a server that died on its own
        self._check_ports_free()
        self._check_data_dir_free()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        command = self._prepare()
        timeout = self.start_timeout_s if timeout is None else timeout
        say(self.tag, f"starting {self._describe()} (data: {self._data_dir})")
        started = time.monotonic()
        self._spawn(command, self._output, cwd=self._data_dir, env=self._environment())
        try:
            self._wait_ready(started + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        say(self.tag, f"ready in {time.monotonic() - started:.1f}s (log: {self.log_file})")

    def _check_ports_free(self) -> None:
        """Before anything is fetched or built, so it fails fast; and before the start, since
        a server may not exit on a taken port (Toxiproxy logs and idles) while whatever holds
        the port might well answer the readiness probe."""
        for name, port in self._ports().items():
            if port_taken(port):
                raise self.error(
                    f"{name} port {HOST}:{port} is already in use (another {self.label}?); "
                    "pass 0 to pick a free one"
                )

    def _check_data_dir_free(self) -> None:
        """Probe the lock a live server holds in its data dir before touching its files: a
        second server would rewrite its config and corrupt its data, or block forever."""
        if self.lock_file is None:
            return
        path = self._data_dir / self.lock_file
        if not path.is_file():
            return
        lock = fcntl.lockf if self.lock_kind == "lockf" else fcntl.flock
        with open(path, "rb+") as handle:  # writable: an exclusive lockf needs that
            try:
                lock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise self.error(
                    f"{self._data_dir} is in use by another running {self.label}; "
                    "stop it or use another data dir"
                ) from None
            lock(handle, fcntl.LOCK_UN)

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        while True:
            code = self.returncode
            if code is not None:
                raise self.error(
                    f"{self.label} exited with code {code} before it was ready\n{self._log_tails()}"
                )
            if self._ready():
                return
            if time.monotonic() > deadline:
                raise self.error(f"{self.label} not ready after {timeout:g}s\n{self._log_tails()}")
            time.sleep(self.poll_interval_s)

    def _log_tails(self) -> str:
        parts: list[str] = []
        for path in dict.fromkeys([self.log_file, self._output]):  # once if they are one file
            lines = read_lines(path)
            errors = self._error_lines(lines)[-10:]
            if errors:
                parts += [f"--- errors in {path} ---", *errors]
            parts += [f"--- tail of {path} ---", *(self._readable(line) for line in lines[-15:])]
        return "\n".join(parts)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
