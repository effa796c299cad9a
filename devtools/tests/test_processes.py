"""Child processes never outlive the process that started them, however it dies: the kernel
stops them when it is SIGKILLed (atexit never runs then), and a child started from a thread
that ends keeps running (the kernel's death signal follows the forking thread, not the
process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from supportbus_devtools.processes import ChildProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

# Blocks SIGTERM, so a death signal that was sent stays pending where /proc shows it.
_TERM_BLOCKING_SLEEPER = (
    "import signal, time; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}); "
    "time.sleep(600)"
)


class Sleeper(ChildProcess):
    def start(self, code: str, output: Path) -> None:
        self._spawn([sys.executable, "-c", code], output)


def _state(pid: int) -> str | None:
    """The process's /proc state letter, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def _gone_or_zombie(pid: int) -> bool:
    return _state(pid) in (None, "Z")  # a zombie waits for its new parent to reap it


def _sigterm_pending(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    pending = ("SigPnd:", "ShdPnd:")  # the thread's and the process's pending signals
    masks = [line.split()[1] for line in status.splitlines() if line.startswith(pending)]
    return any(int(mask, 16) & (1 << (signal.SIGTERM - 1)) for mask in masks)


def test_child_stops_when_its_parent_is_sigkilled(tmp_path: Path) -> None:
    parent_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from supportbus_devtools.processes import ChildProcess

        class Sleeper(ChildProcess):
            def start(self):
                self._spawn([sys.executable, "-c", "import time; time.sleep(600)"],
                            Path({str(tmp_path / "child.out")!r}))

        child = Sleeper()
        child.start()
        print(child.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        assert _state(child_pid) not in (None, "Z")
        parent.kill()  # no atexit, no finally: only the kernel can stop the child now
        parent.wait()
        deadline = time.monotonic() + 30
        while not _gone_or_zombie(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone_or_zombie(child_pid), "the child outlived its SIGKILLed parent"
    finally:
        if not _gone_or_zombie(child_pid):
            os.killpg(child_pid, signal.SIGKILL)


def test_child_started_from_a_thread_that_ends_keeps_running(tmp_path: Path) -> None:
    child = Sleeper()
    native_ids: list[int] = []

    def start_and_end() -> None:
        native_ids.append(threading.get_native_id())
        child.start(_TERM_BLOCKING_SLEEPER, tmp_path / "child.out")

    thread = threading.Thread(target=start_and_end)
    thread.start()
    thread.join()
    try:
        # Once the thread's task left /proc, any death signal it triggered was already sent.
        deadline = time.monotonic() + 30
        while Path(f"/proc/self/task/{native_ids[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not Path(f"/proc/self/task/{native_ids[0]}").exists()
        assert child.pid is not None
        assert not _sigterm_pending(child.pid), "the thread's exit told the child to stop"
    finally:
        child.kill_hard()
