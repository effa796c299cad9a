"""The CLI's one error translation: each kind of failure ends a command with one message on
stderr and its exit code, never a traceback; a bug keeps its traceback."""

from __future__ import annotations

import httpx
import pytest
import typer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from supportbus_classifier.errors import ModelUnavailable
from supportbus_cli.errors import ErrorTranslatingGroup
from supportbus_cli.main import app
from supportbus_runtime.errors import ConfigurationError, PermanentError, TransientError

runner = CliRunner()


class _Secretive(BaseModel):
    token: SecretStr
    port: int


def _failing_app(error: BaseException) -> typer.Typer:
    """A stand-in app whose one command raises ``error``, with the real app's group class."""
    failing = typer.Typer(cls=ErrorTranslatingGroup, pretty_exceptions_enable=False)

    @failing.callback()
    def _root() -> None:  # a callback keeps it a group (one command alone would be the app)
        pass

    @failing.command()
    def fail() -> None:
        raise error

    return failing


def _validation_error() -> Exception:
    try:
        _Secretive.model_validate({"token": "hunter2", "port": "not-a-port-hunter2"})
    except Exception as error:  # pydantic's ValidationError
        return error
    raise AssertionError("the model accepted a bad port")


def _http_status_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://user:pw@helpdesk:8085/v1/tickets?token=s3cret")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError("refused", request=request, response=response)


def _connect_error() -> httpx.ConnectError:
    request = httpx.Request("POST", "https://user:pw@weaviate.example/v1/graphql?key=s3cret")
    return httpx.ConnectError("[Errno 111] Connection refused", request=request)


TRANSLATED: list[tuple[str, BaseException, int, str]] = [
    ("permanent", PermanentError("the helpdesk refused it"), 1, "the helpdesk refused it"),
    ("transient", TransientError("the broker is busy"), 1, "the broker is busy"),
    ("configuration", ConfigurationError("no model file"), 2, "no model file"),
    ("configuration subclass", ModelUnavailable("model missing"), 2, "model missing"),
    ("kafka unreachable", KafkaConnectionError("Unable to bootstrap"), 1, "cannot reach Kafka"),
    ("kafka other", KafkaTimeoutError(), 1, "Kafka: KafkaTimeoutError"),
    (
        "http 5xx",
        _http_status_error(503),
        1,
        "GET http://helpdesk:8085/v1/tickets answered HTTP 503",
    ),
    (
        "http 4xx",
        _http_status_error(404),
        1,
        "GET http://helpdesk:8085/v1/tickets answered HTTP 404",
    ),
    ("http transport", _connect_error(), 1, "POST https://weaviate.example/v1/graphql failed"),
    ("missing file", FileNotFoundError(2, "No such file", "in.jsonl"), 2, "No such file: in.jsonl"),
    ("permission", PermissionError(13, "Permission denied", "/out"), 1, "Permission denied: /out"),
    ("invalid input", _validation_error(), 2, "invalid _Secretive: port:"),
]


@pytest.mark.parametrize(
    ("error", "code", "said"), [t[1:] for t in TRANSLATED], ids=[t[0] for t in TRANSLATED]
)
def test_each_translated_error_ends_with_its_message_and_exit_code(
    error: BaseException, code: int, said: str
) -> None:
    result = runner.invoke(_failing_app(error), ["fail"])
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("error: ")
    assert said in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("error", [_validation_error(), _http_status_error(500), _connect_error()])
def test_messages_never_echo_secrets_or_rejected_values(error: BaseException) -> None:
    said = runner.invoke(_failing_app(error), ["fail"]).stderr
    for secret in ("hunter2", "s3cret", "user:pw", "pw@"):
        assert secret not in said


def test_a_message_is_redacted_like_a_log_line() -> None:
    error = PermanentError("no customer jane.doe@example.com")
    said = runner.invoke(_failing_app(error), ["fail"]).stderr
    assert "jane.doe@example.com" not in said


def test_ctrl_c_ends_with_130_and_no_traceback() -> None:
    result = runner.invoke(_failing_app(KeyboardInterrupt()), ["fail"])
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted"


@pytest.mark.parametrize("bug", [RuntimeError("a bug"), ValueError("lexical arrays do not match")])
def test_a_bug_keeps_its_traceback(bug: Exception) -> None:
    # A bare ValueError is an invariant that broke, not a bad argument: commands refuse bad
    # arguments with ConfigurationError.
    result = runner.invoke(_failing_app(bug), ["fail"])
    assert result.exception is bug
    assert "error:" not in result.output


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "command",
    [["topics"], ["dlq", "list"], ["dlq", "redrive"], ["publish", "--text", "My card was stolen"]],
)
def test_an_unreachable_broker_is_one_line_and_exit_1(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--bootstrap", "127.0.0.1:1"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1
    assert "127.0.0.1" in lines[0]
    if command == ["topics"]:
        assert result.stderr.splitlines() == lines  # nothing else around it


def test_a_missing_requests_file_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["publish", "--file", "/no/such/requests.jsonl"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: No such file or directory: /no/such/requests.jsonl"
