"""One OpenAI-compatible ``POST /chat/completions``, on aiohttp.

The wire format is small (messages in; a message, tool calls and token usage out) and stable
across OpenAI, Azure's v1 endpoint, vLLM, Ollama and LiteLLM, so we speak it ourselves rather
than through langchain-openai or the openai SDK, whose per-call CPU is what capped an LLM-bound
service. ``benchmarks/llm_client_cpu.py`` (64 calls in flight, stub at 0 ms) printed, per call:
8.6 ms through langchain-openai, 4.7 through the openai SDK (3.1 on its aiohttp transport), 1.4
through ``LlmClient.complete`` on this module (prompt budget, retries, span and metrics
included), 0.4 for a bare aiohttp POST. Two LLM hops per request at langchain's rate were the
largest share of the CPU a request cost on a 2-core box.

Failures leave this module as ours only (``supportbus_runtime.llm.errors``), raised ``from``
aiohttp's; no message carries the prompt, the answer or the key.
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import BaseModel, Field, ValidationError

from supportbus_runtime.llm.errors import LlmTimeout, LlmTransientError, for_status

Message = dict[str, str]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # JSON text as the model wrote it; parsing it is the caller's decision


@dataclass(frozen=True)
class ChatAnswer:
    content: str
    tool_calls: tuple[ToolCall, ...]
    model: str
    prompt_tokens: int
    completion_tokens: int


# The part of a completion we read; everything else a server adds is ignored.
class _Function(BaseModel):
    name: str
    arguments: str = ""


class _ToolCall(BaseModel):
    function: _Function


class _Message(BaseModel):
    content: str | list[Any] | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(BaseModel):
    message: _Message


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(BaseModel):
    model: str = ""
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


@functools.lru_cache(maxsize=64)
def tool_definition(schema: type[BaseModel]) -> dict[str, Any]:
    """``schema`` as the one function the model may call: its docstring the description, its
    JSON schema (references inlined, titles dropped) the parameters. Cached: do not mutate."""
    parameters = schema.model_json_schema()
    definitions = parameters.pop("$defs", {})
    try:
        parameters = _without_titles(_inline(parameters, definitions, frozenset()))
    except _RecursiveSchema:  # a model that contains itself cannot be sent flat: keep "$defs"
        parameters = _without_titles(schema.model_json_schema())
    description = parameters.pop("description", None) or (schema.__doc__ or "").strip()
    function: dict[str, Any] = {"name": schema.__name__, "parameters": parameters}
    if description:
        function["description"] = description
    return {"type": "function", "function": function}


class _RecursiveSchema(Exception):
    """A ``$ref`` met again inside its own expansion."""


def _inline(node: Any, definitions: dict[str, Any], expanding: frozenset[str]) -> Any:
    # Some OpenAI-compatible servers do not resolve "$ref"; a nested schema is sent flat.
    # ``expanding`` holds the references being expanded above this node: met again, the
    # schema is recursive and inlining would never end.
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            if reference in expanding:
                raise _RecursiveSchema(reference)
            inner = expanding | {reference}
            resolved = _inline(definitions[reference.removeprefix("#/$defs/")], definitions, inner)
            rest = {k: _inline(v, definitions, expanding) for k, v in node.items() if k != "$ref"}
            return {**resolved, **rest}
        return {key: _inline(value, definitions, expanding) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions, expanding) for item in node]
    return node


def _without_titles(node: Any) -> Any:
    # "title" annotations cost prompt tokens and tell the model nothing the names do not.
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):  # a field may be named "title"
            cleaned[key] = {name: _without_titles(field) for name, field in value.items()}
        elif not (key == "title" and isinstance(value, str)):
            cleaned[key] = _without_titles(value)
    return cleaned


class ChatApi:
    """Chat completions from one endpoint over one pooled aiohttp session per event loop.

    The session is opened on first use, inside the running loop (aiohttp binds it there);
    ``aclose`` closes it at shutdown."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float,
        temperature: float,
        max_tokens: int,
        proxy: str = "",
    ) -> None:
        self._proxy = proxy or None
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": "supportbus",
        }
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def create(
        self, model: str, messages: list[Message], *, tool: dict[str, Any] | None = None
    ) -> ChatAnswer:
        """One completion; with ``tool``, the model is told to call that function."""
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": self._temperature,
            "max_tokens": self._max_tokens,
        }
        if tool is not None:
            body["tools"] = [tool]
            chosen = {"name": tool["function"]["name"]}
            body["tool_choice"] = {"type": "function", "function": chosen}
        payload = json.dumps(body, ensure_ascii=False).encode()
        try:
            async with self._session_here().post(
                self._url, data=payload, headers=self._headers, proxy=self._proxy
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except TimeoutError as error:  # aiohttp's timeouts are TimeoutError subclasses
            raise LlmTimeout("the LLM did not answer in time") from error
        except aiohttp.ClientError as error:
            raise LlmTransientError("cannot reach the LLM endpoint") from error
        if status >= 400:
            raise for_status(status, retry_after)
        try:
            completion = _Completion.model_validate_json(raw)
        except ValidationError as error:
            # Not the library's message: it would quote the answer, which may carry the prompt.
            raise LlmTransientError(
                f"the LLM endpoint answered HTTP {status} without a chat completion"
            ) from error
        return _answer(completion, model)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            # Not trust_env: it reads ~/.netrc on every request (5% of a call's CPU), and the
            # proxy is a setting (LLM_PROXY_URL), read where all settings are.
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._session_loop = loop
        return self._session


def _answer(completion: _Completion, asked_model: str) -> ChatAnswer:
    message = completion.choices[0].message
    usage = completion.usage or _Usage()
    return ChatAnswer(
        content=_text(message.content),
        tool_calls=tuple(
            ToolCall(call.function.name, call.function.arguments)
            for call in message.tool_calls or ()
        ),
        model=completion.model or asked_model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )


def _text(content: str | list[Any] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    # Content parts: [{"type": "text", "text": ...}, ...]
    parts = (part.get("text", "") if isinstance(part, dict) else part for part in content)
    return "".join(part for part in parts if isinstance(part, str))
