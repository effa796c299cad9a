"""The chat-completions adapter against a real local HTTP server (aiohttp's), for what the LLM
stub cannot answer: malformed bodies, closed ports, nested tool schemas, odd Retry-After values.
Status codes, timeouts and tool calls through the stub are in tests/test_llm_providers.py."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel, Field

from supportbus_runtime.llm.chat_api import ChatApi, tool_definition
from supportbus_runtime.llm.errors import (
    LlmPermanentError,
    LlmRateLimited,
    LlmTransientError,
    for_status,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/v1"


def _api(base_url: str) -> ChatApi:
    return ChatApi(base_url, "sk-secret", timeout_s=5.0, temperature=0.0, max_tokens=50)


async def test_answer_without_a_completion_is_transient_and_quotes_nothing() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text='{"note": "maria@example.org wrote: my card 4111"}')

    runner, url = await _serve(handler)
    api = _api(url)
    try:
        with pytest.raises(LlmTransientError) as raised:
            await api.create("m", [{"role": "user", "content": "hello"}])
    finally:
        await api.aclose()
        await runner.cleanup()
    assert "maria" not in str(raised.value)
    assert "4111" not in str(raised.value)


async def test_closed_port_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe closes
    api = _api(f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(LlmTransientError, match="cannot reach"):
            await api.create("m", [{"role": "user", "content": "hello"}])
    finally:
        await api.aclose()


async def test_request_carries_the_key_the_tool_and_the_forced_choice() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append({"auth": request.headers["Authorization"], "body": await request.json()})
        call = {"id": "c1", "type": "function",
                "function": {"name": "Verdict", "arguments": '{"ok": true}'}}
        return web.json_response({
            "model": "served-model",
            "choices": [{"message": {"role": "assistant", "content": None,
                                     "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3},
        })

    runner, url = await _serve(handler)
    api = _api(url)
    try:
        answer = await api.create(
            "asked-model", [{"role": "user", "content": "hi"}], tool=tool_definition(Verdict)
        )
    finally:
        await api.aclose()
        await runner.cleanup()
    assert seen[0]["auth"] == "Bearer sk-secret"
    body = seen[0]["body"]
    assert body["model"] == "asked-model"
    assert body["max_tokens"] == 50
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Verdict"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["Verdict"]
    assert answer.model == "served-model"
    assert (answer.prompt_tokens, answer.completion_tokens) == (12, 3)
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [("Verdict", '{"ok": true}')]


class Finding(BaseModel):
    title: str = Field(description="A field that happens to be called title.")
    severity: int


class Verdict(BaseModel):
    """Record the verdict."""

    ok: bool
    findings: list[Finding] = []


def test_nested_tool_schema_is_sent_flat_without_title_annotations() -> None:
    function = tool_definition(Verdict)["function"]
    assert function["name"] == "Verdict"
    assert function["description"] == "Record the verdict."
    parameters = function["parameters"]
    text = str(parameters)
    assert "$ref" not in text
    assert "$defs" not in text
    finding = parameters["properties"]["findings"]["items"]
    assert set(finding["properties"]) == {"title", "severity"}  # the field named title stays
    assert "title" not in parameters
    assert "title" not in finding
    assert "title" not in finding["properties"]["severity"]


class Topic(BaseModel):
    """A topic and its subtopics."""

    name: str
    subtopics: list[Topic] = []


def test_recursive_tool_schema_keeps_its_definitions_instead_of_recursing_forever() -> None:
    parameters = tool_definition(Topic)["function"]["parameters"]
    assert parameters["$ref"] == "#/$defs/Topic"
    subtopics = parameters["$defs"]["Topic"]["properties"]["subtopics"]
    assert subtopics["items"] == {"$ref": "#/$defs/Topic"}
    assert "title" not in parameters["$defs"]["Topic"]


@pytest.mark.parametrize(
    ("status", "retry_after", "expected", "wait"),
    [
        (429, "7", LlmRateLimited, 7.0),
        (429, "Wed, 21 Oct 2026 07:28:00 GMT", LlmRateLimited, None),  # a date: our own backoff
        (429, None, LlmRateLimited, None),
        (503, None, LlmTransientError, None),
        (408, None, LlmTransientError, None),
        (400, None, LlmPermanentError, None),
        (401, None, LlmPermanentError, None),
    ],
)
def test_http_status_maps_to_retry_or_refusal(
    status: int, retry_after: str | None, expected: type[Exception], wait: float | None
) -> None:
    error = for_status(status, retry_after)
    assert type(error) is expected
    assert getattr(error, "retry_after_s", None) == wait
