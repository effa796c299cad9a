"""Stopping the servers and services we start as child processes, the same way everywhere."""

from __future__ import annotations

import os
import signal
import subprocess
from types import FrameType


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
