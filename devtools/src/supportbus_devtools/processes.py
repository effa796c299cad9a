"""Stopping the servers and services we start as child processes, the same way everywhere."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self


def terminate_group(process: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """SIGTERM to the child's process group (it was started with ``start_new_session``, so
    this reaches anything it spawned), SIGKILL after ``grace_s``; harmless if already gone."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def stop_on_sigterm() -> None:
    """Turn SIGTERM (kill, systemd, a supervisor) into KeyboardInterrupt, so a foreground
    command that runs a server stops it the same way as on Ctrl-C instead of orphaning it."""

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def read_lines(path: Path) -> list[str]:
    """A log file's lines, or none if it cannot be read (for error messages)."""
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Holds an exclusive file lock, so two processes never fill the same cache at once."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class LocalServer:
    """A server we run as a child process (Kafka, Weaviate): subclasses start it and set
    ``_process``; stopping, and use as a context manager, are the same for all."""

    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        raise NotImplementedError

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _started(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        atexit.register(self.stop)  # never leave an orphan server behind the interpreter

    def kill_hard(self) -> int | None:
        """SIGKILL the server's process group, as a crash would (fault injection); returns the
        exit code (None if it was not running). ``start()`` may bring it back afterwards."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait()

    def stop(self) -> None:
        """SIGTERM (the server flushes and closes), SIGKILL after 30 s; safe to repeat."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            terminate_group(process, grace_s=30)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
