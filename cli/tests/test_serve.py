"""`kafka run` and `weaviate run` end the same way: exit 0 after Ctrl-C stops the server, exit 1
with the server's exit status when it dies on its own, the server stopped either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportbus_cli import kb_command, main, serve
from supportbus_cli.errors import ServerExited
from supportbus_cli.main import app

runner = CliRunner()


class FakeServer:
    """Runs for ``polls`` checks, then either dies with ``code`` or gets a Ctrl-C."""

    def __init__(self, *_: object, polls: int = 2, code: int | None = 3) -> None:
        self.polls = polls
        self.code = code  # None: a Ctrl-C arrives instead of the server dying
        self.started = False
        self.stops = 0
        self.log_file = Path("/var/log/fake.out")
        self.bootstrap_servers = "127.0.0.1:19092"
        self.url = "http://127.0.0.1:18080"
        self.grpc_port = 15051

    def start(self) -> None:
        self.started = True

    def is_running(self) -> bool:
        if self.polls == 0:
            if self.code is None:
                raise KeyboardInterrupt
            return False
        self.polls -= 1
        return True

    def stop(self) -> None:
        self.stops += 1

    @property
    def returncode(self) -> int | None:
        return self.code if self.polls == 0 else None


@pytest.fixture(autouse=True)
def _no_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    # serve() makes SIGTERM a KeyboardInterrupt; not in the test process.
    monkeypatch.setattr(serve, "stop_on_sigterm", lambda: None)


def test_a_server_that_dies_raises_with_its_exit_status_after_stopping_it() -> None:
    server = FakeServer(code=3)
    with pytest.raises(ServerExited, match=r"Kafka stopped on its own \(exit code 3\)"):
        serve.serve(server, "Kafka", lambda: server.bootstrap_servers, poll_s=0)
    assert server.stops >= 1


def test_ctrl_c_stops_the_server_and_returns() -> None:
    server = FakeServer(code=None)
    serve.serve(server, "Kafka", lambda: server.bootstrap_servers, poll_s=0)
    assert server.stops >= 1


@pytest.mark.parametrize(
    ("code", "said"), [(0, "exit code 0"), (-9, "signal SIGKILL"), (None, "an unknown status")]
)
def test_exit_statuses_read_as_people_say_them(code: int | None, said: str) -> None:
    assert serve.exit_status(code) == said


def _fake_servers(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str, code: int | None
) -> list[FakeServer]:
    """The command's server class replaced by FakeServer; the list fills as it is built."""
    servers: list[FakeServer] = []

    def build(*_: object) -> FakeServer:
        servers.append(FakeServer(code=code))
        return servers[-1]

    monkeypatch.setattr(module, name, build)
    monkeypatch.setattr(serve.time, "sleep", lambda _: None)  # the commands poll once a second
    return servers


RUNS = [
    (["kafka", "run"], main, "LocalKafka", "Kafka ready at 127.0.0.1:19092"),
    (["weaviate", "run"], kb_command, "LocalWeaviate", "Weaviate ready at http://127.0.0.1:18080"),
]


@pytest.mark.parametrize(("argv", "module", "name", "ready"), RUNS, ids=["kafka", "weaviate"])
def test_both_run_commands_exit_1_with_the_status_when_the_server_dies(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], module: object, name: str, ready: str
) -> None:
    servers = _fake_servers(monkeypatch, module, name, code=1)
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert ready in result.stderr
    assert "stopped on its own (exit code 1); see /var/log/fake.out" in result.stderr
    assert "Traceback" not in result.output
    assert servers[0].stops >= 1


@pytest.mark.parametrize(("argv", "module", "name", "ready"), RUNS, ids=["kafka", "weaviate"])
def test_both_run_commands_exit_0_after_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], module: object, name: str, ready: str
) -> None:
    servers = _fake_servers(monkeypatch, module, name, code=None)
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert ready in result.stderr
    assert "stopped" in result.stderr
    assert "error" not in result.stderr
    assert servers[0].stops >= 1
