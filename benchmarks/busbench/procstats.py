"""CPU time and peak memory of the processes under test (psutil, /proc on Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def cores() -> int:
    """The cores this benchmark may use (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used so far (None: it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def peak_rss_bytes(pid: int) -> int | None:
    """The process's resident-set high-water mark (VmHWM), which catches a peak between two
    samples; the current RSS where /proc has no such line."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def find_broker_pid() -> int | None:
    """The local Kafka broker this process started (a java child running kafka.Kafka); None
    for an external broker, which this benchmark cannot measure."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "kafka.Kafka" in child.cmdline():
                return int(child.pid)
        except psutil.Error:
            continue
    return None


class CpuMeter:
    """CPU seconds used by a named set of processes between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self._start = {n: c for n, p in self.pids.items() if (c := cpu_seconds(p)) is not None}

    def stop(self) -> dict[str, float]:
        self.used = {}
        for name, pid in self.pids.items():
            now = cpu_seconds(pid)
            if now is not None and name in self._start:
                self.used[name] = now - self._start[name]
        return self.used

    def peak_rss(self) -> dict[str, int]:
        return {n: r for n, p in self.pids.items() if (r := peak_rss_bytes(p)) is not None}
