"""The lifecycle every local server and stack process shares, on tiny Python child processes:
a server that dies or never gets ready fails with its log, a data dir held by a live server or a
taken port is refused before anything is prepared, and stopping leaves no process behind."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from supportbus_devtools import localkafka, localweaviate, stack, toxiproxy
from supportbus_devtools.errors import (
    DevtoolsError,
    LocalKafkaError,
    LocalWeaviateError,
    NotReadyError,
    StackError,
    ToxiproxyError,
)
from supportbus_devtools.gobuild import go_build_env
from supportbus_devtools.localkafka import LocalKafkaConfig
from supportbus_devtools.localserver import LocalServer, default_cache_dir
from supportbus_devtools.processes import wait_until_http_ok
from supportbus_devtools.stack import ManagedProcess
from supportbus_devtools.testing import process_gone
from supportbus_runtime.errors import SupportbusError


class FakeError(DevtoolsError):
    pass


class FakeServer(LocalServer):
    """Runs ``script``; ready once the script has written ``ready`` into its data dir."""

    label = "fake server"
    tag = "fake"
    error = FakeError
    start_timeout_s = 10.0
    poll_interval_s = 0.05
    lock_file = "server.lock"
    lock_kind = "flock"

    def __init__(self, data_dir: Path, script: str, ports: Mapping[str, int] | None = None) -> None:
        super().__init__(data_dir)
        self.script = script
        self.ports = dict(ports or {})
        self.prepared = 0

    def _ports(self) -> Mapping[str, int]:
        return self.ports

    def _prepare(self) -> list[str]:
        self.prepared += 1
        return [sys.executable, "-c", self.script]

    def _ready(self) -> bool:
        return (self._data_dir / "ready").is_file()


SERVES = "import pathlib, time; pathlib.Path('ready').touch(); time.sleep(600)"
# A grandchild in the same process group: stopping must reach it too.
SERVES_WITH_CHILD = (
    "import pathlib, subprocess, sys, time;"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "pathlib.Path('child.pid').write_text(str(child.pid));"
    "pathlib.Path('ready').touch(); time.sleep(600)"
)



def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    """A grandchild is reaped by init, not by us: give it a moment to disappear."""
    deadline = time.monotonic() + seconds
    while not process_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_server_that_exits_during_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('boom: bad config', file=sys.stderr); sys.exit(3)"
    server = FakeServer(tmp_path, script)
    with pytest.raises(FakeError, match="exited with code 3") as raised:
        server.start()
    assert "boom: bad config" in str(raised.value)
    assert isinstance(raised.value, DevtoolsError)
    assert not server.is_running()


def test_a_server_never_ready_fails_at_the_deadline_and_is_stopped(tmp_path: Path) -> None:
    server = FakeServer(
        tmp_path, "print('still warming up', flush=True); import time; time.sleep(600)"
    )
    started = time.monotonic()
    with pytest.raises(FakeError, match=r"not ready after 2s") as raised:
        server.start(timeout=2)
    assert time.monotonic() - started < 10
    assert "still warming up" in str(raised.value)
    assert server._process is not None
    assert process_gone(server._process.pid)


@pytest.mark.parametrize("kind", ["flock", "lockf"])
def test_a_data_dir_held_by_a_live_server_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setattr(FakeServer, "lock_kind", kind)
    lock = tmp_path / "server.lock"
    lock.touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl, sys, time; f = open({str(lock)!r}, 'rb+'); "
            f"fcntl.{kind}(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        server = FakeServer(tmp_path, SERVES)
        with pytest.raises(FakeError, match="in use by another running fake server"):
            server.start()
        assert server.prepared == 0
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_file_left_by_a_dead_server_does_not_block_a_start(tmp_path: Path) -> None:
    (tmp_path / "server.lock").touch()
    with FakeServer(tmp_path, SERVES) as server:
        assert server.is_running()


def test_a_taken_port_is_refused_before_anything_is_prepared(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = FakeServer(tmp_path, SERVES, ports={"API": busy.getsockname()[1]})
        with pytest.raises(FakeError, match=r"API port .* already in use"):
            server.start()
    assert server.prepared == 0


def test_stop_ends_the_whole_process_group_and_is_safe_to_repeat(tmp_path: Path) -> None:
    with FakeServer(tmp_path, SERVES_WITH_CHILD) as server:
        pid = server.pid
        assert pid is not None
        child = int((tmp_path / "child.pid").read_text())
        server.start()  # already running: a no-op
        assert server.pid == pid
    server.stop()
    assert server.pid is None
    assert process_gone(pid)
    assert _wait_gone(child)


def test_kill_hard_returns_the_signal_and_start_brings_the_server_back(tmp_path: Path) -> None:
    server = FakeServer(tmp_path, SERVES)
    assert server.kill_hard() is None  # never started
    server.start()
    try:
        assert server.kill_hard() == -9
        assert not server.is_running()
        server.start()
        assert server.is_running()
    finally:
        server.stop()


def _wait_for_lines(process: ManagedProcess, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(process.log_tail().splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_stack_process_appends_its_log_and_tells_a_crash_from_a_kill(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "svc.log"
    script = "import sys, time; print('run', flush=True); time.sleep(float(sys.argv[1]))"
    crashing = ManagedProcess("svc", [sys.executable, "-c", script, "0"], dict(os.environ), log)
    crashing.start()
    assert crashing._process is not None
    crashing._process.wait()
    assert crashing.died

    lasting = ManagedProcess("svc", [sys.executable, "-c", script, "600"], dict(os.environ), log)
    lasting.start()
    _wait_for_lines(lasting, 2)
    assert lasting.alive
    assert not lasting.died
    assert lasting.kill_hard() == -9
    assert (lasting.killed, lasting.died, lasting.returncode) == (1, False, -9)
    lasting.start()  # a restart under the same name
    _wait_for_lines(lasting, 3)
    lasting.stop(timeout=5)
    assert lasting.starts == 2
    assert not lasting.died
    assert lasting.log_tail().splitlines() == ["run", "run", "run"]


@pytest.fixture
def healthz() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_waiting_for_http_ok_returns_once_the_endpoint_answers_200(healthz: str) -> None:
    wait_until_http_ok(f"{healthz}/healthz", 5)


def test_waiting_for_http_ok_fails_at_the_deadline_while_it_answers_otherwise(
    healthz: str,
) -> None:
    with pytest.raises(NotReadyError, match=r"did not answer 200 within 0\.3 s"):
        wait_until_http_ok(f"{healthz}/other", 0.3)


def test_waiting_for_http_ok_gives_up_at_once_when_the_check_raises() -> None:
    def died() -> None:
        raise StackError("helpdesk exited with code 1")

    started = time.monotonic()
    with pytest.raises(StackError, match="exited"):
        wait_until_http_ok("http://127.0.0.1:9/healthz", 30, check=died)
    assert time.monotonic() - started < 5


def test_every_devtools_error_is_one_devtools_error_and_keeps_its_old_import_path() -> None:
    assert issubclass(DevtoolsError, SupportbusError)
    for error in (LocalKafkaError, LocalWeaviateError, ToxiproxyError, StackError, NotReadyError):
        assert issubclass(error, DevtoolsError)
    assert localkafka.LocalKafkaError is LocalKafkaError
    assert localweaviate.LocalWeaviateError is LocalWeaviateError
    assert toxiproxy.ToxiproxyError is ToxiproxyError
    assert stack.StackError is StackError
    assert ToxiproxyError("gone", 404).status == 404


def test_the_default_cache_dir_is_under_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "supportbus"
    assert LocalKafkaConfig(data_dir=tmp_path).cache_dir == default_cache_dir()


def test_go_builds_use_a_module_proxy_and_the_local_toolchain_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOPROXY", "https://goproxy.example|direct")
    monkeypatch.setenv("GONOPROXY", "github.com/*")
    env = go_build_env(tmp_path / "bin")
    assert env["GOPROXY"] == "https://goproxy.example"
    assert (env["GOTOOLCHAIN"], env["CGO_ENABLED"], env["GOBIN"]) == (
        "local",
        "0",
        str(tmp_path / "bin"),
    )
    assert "GONOPROXY" not in env
    monkeypatch.setenv("GOPROXY", "off")
    assert go_build_env(tmp_path)["GOPROXY"] == "https://proxy.golang.org"
