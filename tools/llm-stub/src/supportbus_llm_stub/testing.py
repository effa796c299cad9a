"""Start the stub as a subprocess on 127.0.0.1 and drive it over HTTP, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StubServer:
    def __init__(
        self,
        *,
        latency_ms: int = 0,
        echo_valid: bool = False,
        log_limit: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._latency_ms = latency_ms
        self._echo_valid = echo_valid
        self._log_limit = log_limit
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server process, e.g. to measure what it costs under load."""
        return None if self._process is None else self._process.pid

    def start(self) -> StubServer:
        command = [sys.executable, "-m", "supportbus_llm_stub", "--port", str(self.port)]
        command += ["--latency-ms", str(self._latency_ms)]
        if self._echo_valid:
            command.append("--echo-valid")
        if self._log_limit is not None:
            command += ["--log-limit", str(self._log_limit)]
        if self._log_path is None:
            self._process = subprocess.Popen(command)
        else:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            with self._log_path.open("ab") as log:  # the child keeps its own descriptor
                self._process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/_requests", timeout=1)
                return self
            except httpx.HTTPError:
                if self._process.poll() is not None:
                    raise RuntimeError("the LLM stub exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("the LLM stub did not start in 30 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def script(self, steps: list[dict[str, Any]], default: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"steps": steps}
        if default is not None:
            payload["default"] = default
        httpx.post(f"http://127.0.0.1:{self.port}/_script", json=payload, timeout=5)

    def stats(self) -> dict[str, Any]:
        """``{"answered": N, "by_kind": {"echo_valid": N, ...}}`` since the last script."""
        answer = httpx.get(f"http://127.0.0.1:{self.port}/_stats", timeout=5)
        result: dict[str, Any] = answer.json()
        return result

    def requests(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/_requests", timeout=5)
        result: list[dict[str, Any]] = answer.json()
        return result

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
