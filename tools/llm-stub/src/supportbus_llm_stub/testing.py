"""Start the stub as a subprocess on 127.0.0.1 and drive it over HTTP, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StubServer:
    def __init__(self, *, latency_ms: int = 0) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._latency_ms = latency_ms
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> StubServer:
        command = [sys.executable, "-m", "supportbus_llm_stub", "--port", str(self.port)]
        command += ["--latency-ms", str(self._latency_ms)]
        self._process = subprocess.Popen(command)
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
