"""Child processes the development tools start (servers, the stack's services): spawned, logged,
polled, waited for and stopped the same way everywhere."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from supportbus_devtools.errors import NotReadyError

__all__ = [
    "ChildProcess",
    "exclusive_lock",
    "http_ok",
    "read_lines",
    "say",
    "stop_on_sigterm",
    "terminate_group",
    "wait_until_http_ok",
]


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


def say(tag: str, message: str) -> None:
    """Progress of a slow step (a download, a build, a start) on stderr, so a first run that
    takes minutes does not look hung and stdout stays the command's own."""
    print(f"{tag}: {message}", file=sys.stderr, flush=True)


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


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True if a GET answers 200. Never through a proxy: an HTTP_PROXY in a developer's shell
    must not reroute a probe of a server on 127.0.0.1."""
    try:
        return httpx.get(url, timeout=timeout, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_http_ok(url: str, timeout: float, *, check: Callable[[], object] | None = None,
                       interval: float = 0.1) -> None:
    """Block until a GET of ``url`` answers 200 (a ``/healthz``), at most ``timeout`` seconds,
    then raise NotReadyError. ``check`` runs before every attempt and may raise to give up
    early, e.g. because the server's process has exited: waiting out the deadline then would
    only hide why."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        if http_ok(url):
            return
        if time.monotonic() > deadline:
            raise NotReadyError(f"{url} did not answer 200 within {timeout:g} s")
        time.sleep(interval)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel SIGTERM the child when its parent dies, even by
    SIGKILL or an unhandled SIGTERM, when atexit never runs (Linux only; None elsewhere). The
    libc function is looked up here, before the fork, so the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above: nobody will
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


class _Spawner:
    """Forks every child from one daemon thread that lives as long as the process.

    The kernel sends the death signal when the *thread* that forked the child ends, not the
    process: a server started from ``asyncio.to_thread`` or a short-lived thread would be
    stopped as soon as that worker exits. A daemon thread ends only with the interpreter."""

    _lock = threading.Lock()
    _requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None

    @classmethod
    def run(cls, spawn: Callable[[], Any]) -> Any:
        with cls._lock:
            if cls._requests is None:
                cls._requests = queue.SimpleQueue()
                threading.Thread(
                    target=cls._serve, args=(cls._requests,), name="child-spawner", daemon=True
                ).start()
        result: Future[Any] = Future()
        cls._requests.put((spawn, result))
        return result.result()

    @staticmethod
    def _serve(requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]]) -> None:
        while True:
            spawn, result = requests.get()
            try:
                result.set_result(spawn())
            except BaseException as error:  # handed to the caller, who raises it
                result.set_exception(error)


class ChildProcess:
    """One child process in its own session, its output in a log file.

    Its own session, so Ctrl-C at the terminal reaches us and not the child (we decide how it
    stops), and so stopping signals the whole process group, anything the child spawned too.
    The process object is kept after it exits, so its exit code stays readable. On Linux the
    child is also told to stop when we die without running atexit (SIGKILL, a ``timeout``
    around pytest), so a killed test run leaves no broker or service behind eating the CPU.
    """

    _process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: Sequence[str], output: Path, *, cwd: Path | None = None,
               env: Mapping[str, str] | None = None, append: bool = False) -> None:
        """Start ``argv`` with stdout and stderr to ``output`` (appended to across restarts
        when ``append``; otherwise one run per file); ``env`` None inherits ours."""
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "ab" if append else "wb") as log:  # the child keeps its own fd
            self._process = _Spawner.run(
                lambda: subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),
                )
            )
        atexit.register(self.stop)  # never leave an orphan behind the interpreter

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code once it exited (negative: the signal), None before start or while up."""
        return None if self._process is None else self._process.poll()

    @property
    def pid(self) -> int | None:
        """The running process's id (None before start or after exit), e.g. to measure it."""
        return self._process.pid if self._process is not None and self.is_running() else None

    def kill_hard(self) -> int | None:
        """SIGKILL the process group, as a crash would (no shutdown hooks, no final commit;
        fault injection); returns the exit code, None if it was never started."""
        atexit.unregister(self.stop)
        if self._process is None:
            return None
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        return self._process.wait()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (it flushes and closes), SIGKILL after ``timeout`` s; safe to repeat."""
        atexit.unregister(self.stop)
        if self._process is not None:
            terminate_group(self._process, grace_s=timeout)
