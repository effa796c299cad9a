"""Stopping the servers and services we start as child processes, the same way everywhere."""

from __future__ import annotations

import os
import signal
import subprocess


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
