"""One way to call an OpenAI-compatible model, for every service.

``LlmClient`` talks HTTP to ``llm_base_url`` through langchain-openai's ``ChatOpenAI`` (its own
retries off: ours honour ``Retry-After``), retries 429/5xx/timeouts with tenacity, keeps a circuit
breaker on the primary model (while open, calls go straight to the fallback model), trims the
customer's text so that prompt + completion never exceed the token budget, and records on each
result which model answered, the tokens used and why the fallback was taken.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from supportbus_runtime.llm.breaker import CircuitBreaker
from supportbus_runtime.llm.errors import (
    LlmPermanentError,
    LlmTransientError,
    LlmUnavailable,
    translate,
)
from supportbus_runtime.llm.guardrails import wrap_untrusted
from supportbus_runtime.llm.metrics import LlmMetrics
from supportbus_runtime.llm.settings import LlmSettingsMixin
from supportbus_runtime.llm.tokens import count_tokens, trim_to_tokens
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# Per-message framing the chat format adds on top of the text (a safe over-estimate).
_MESSAGE_OVERHEAD_TOKENS = 8
_MIN_DATA_TOKENS = 16


@dataclass(frozen=True)
class Prompt:
    """A system prompt, and a user message whose ``data`` (the customer's text, already
    sanitised and redacted) is the only part trimmed to fit the budget, always delimited."""

    system: str
    data: str
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class LlmResult(Generic[T]):
    value: T
    model: str
    prompt_tokens: int
    completion_tokens: int
    fallback_reason: str | None = None
    parse_error: str | None = None
    trimmed: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def build_chat_model(settings: LlmSettingsMixin, model: str) -> ChatOpenAI:
    """The real langchain-openai client against ``llm_base_url``; retries are ours (0 here)."""
    return ChatOpenAI(
        model=model,
        base_url=settings.llm_base_url,
        api_key=SecretStr(settings.llm_key()),
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
    )


class LlmClient:
    def __init__(
        self,
        settings: LlmSettingsMixin,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        breaker: CircuitBreaker | None = None,
        metrics: LlmMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        self.primary_model = settings.llm_model
        self.fallback_model = settings.llm_fallback_model or None
        self._primary = build_chat_model(settings, settings.llm_model)
        self._fallback = (
            build_chat_model(settings, settings.llm_fallback_model)
            if settings.llm_fallback_model
            else None
        )
        self._tool_bindings: dict[tuple[int, type[BaseModel]], tuple[Any, str]] = {}
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=settings.llm_breaker_failures,
            cooldown_s=settings.llm_breaker_cooldown_s,
        )

    def _tool_bound(self, chat: ChatOpenAI, schema: type[BaseModel]) -> tuple[Any, str]:
        """The model with ``schema`` bound as its one tool, which it must call; built once per
        model and schema (binding converts the schema each time). Not ``with_structured_output``:
        its parser chain costs about 3 ms of CPU per call (6.4 against 3.5 ms, 64 calls in
        flight), half of a structured call's CPU, for what one ``model_validate`` does."""
        key = (id(chat), schema)
        bound = self._tool_bindings.get(key)
        if bound is None:
            name = str(convert_to_openai_tool(schema)["function"]["name"])
            bound = (chat.bind_tools([schema], tool_choice=name), name)
            self._tool_bindings[key] = bound
        return bound

    # ------------------------------------------------------------------ prompt budget
    def messages(self, prompt: Prompt, *, extra_tokens: int = 0) -> tuple[list[BaseMessage], bool]:
        """The chat messages, the customer's text trimmed so prompt + answer fit the budget."""
        fixed = _fixed_tokens(prompt.system, prompt.before, prompt.after) + extra_tokens
        available = self._settings.llm_token_budget - self._settings.llm_max_tokens - fixed
        if available < _MIN_DATA_TOKENS:
            raise LlmPermanentError(
                f"the prompt needs {fixed} tokens before the customer's text; the budget is "
                f"{self._settings.llm_token_budget} with {self._settings.llm_max_tokens} for the "
                "answer"
            )
        data = trim_to_tokens(prompt.data, available)
        trimmed = data != prompt.data
        user = f"{prompt.before}{wrap_untrusted(data)}{prompt.after}"
        return [SystemMessage(content=prompt.system), HumanMessage(content=user)], trimmed

    # ------------------------------------------------------------------ calls
    async def complete(self, prompt: Prompt) -> LlmResult[str]:
        """A plain-text answer."""
        messages, trimmed = self.messages(prompt)

        async def call(chat: ChatOpenAI) -> tuple[str, AIMessage, str | None]:
            raw = await chat.ainvoke(messages)
            return _text(raw), raw, None

        return await self._route(call, trimmed)

    async def structured(self, prompt: Prompt, schema: type[M]) -> LlmResult[M | None]:
        """One tool-calling answer parsed into ``schema``; ``value`` is None and ``parse_error``
        says why when the model's arguments were not valid JSON or did not fit the schema."""
        messages, trimmed = self.messages(prompt, extra_tokens=_schema_tokens(schema))

        async def call(chat: ChatOpenAI) -> tuple[M | None, AIMessage, str | None]:
            bound, name = self._tool_bound(chat, schema)
            raw_message: AIMessage = await bound.ainvoke(messages)
            calls = [c for c in raw_message.tool_calls if c["name"] == name]
            if calls:
                try:
                    return schema.model_validate(calls[0]["args"]), raw_message, None
                except ValidationError as error:
                    return None, raw_message, f"invalid_output:{type(error).__name__}"
            if raw_message.invalid_tool_calls:  # arguments that are not JSON
                return None, raw_message, "invalid_output:arguments_not_json"
            return None, raw_message, "invalid_output:no_tool_call"

        return await self._route(call, trimmed)

    async def _route(
        self,
        call: Callable[[ChatOpenAI], Awaitable[tuple[T, AIMessage, str | None]]],
        trimmed: bool,
    ) -> LlmResult[T]:
        reason: str
        if self.breaker.allow():
            try:
                result = await self._attempts(call, self._primary, self.primary_model, trimmed)
            except LlmTransientError as error:
                self.breaker.record_failure()
                reason = f"primary_failed:{type(error).__name__}"
                log.warning("LLM %s failed: %s", self.primary_model, error)
            except BaseException:
                self.breaker.release()
                raise
            else:
                self.breaker.record_success()
                return result
        else:
            reason = "circuit_open"
        if self._fallback is None or self.fallback_model is None:
            raise LlmUnavailable(reason)
        try:
            result = await self._attempts(call, self._fallback, self.fallback_model, trimmed)
        except LlmTransientError as error:
            raise LlmUnavailable(f"{reason}; fallback_failed:{type(error).__name__}") from error
        return LlmResult(
            value=result.value,
            model=result.model,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            fallback_reason=reason,
            parse_error=result.parse_error,
            trimmed=trimmed,
        )

    async def _attempts(
        self,
        call: Callable[[ChatOpenAI], Awaitable[tuple[T, AIMessage, str | None]]],
        chat: ChatOpenAI,
        model: str,
        trimmed: bool,
    ) -> LlmResult[T]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.llm_retry_attempts),
            retry=retry_if_exception_type(LlmTransientError),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt, _tracer.start_as_current_span("llm_call") as span:
                span.set_attribute("supportbus.llm.model", model)
                try:
                    value, raw, parse_error = await call(chat)
                except Exception as error:
                    ours = translate(error)
                    self._record(model, type(ours or error).__name__)
                    if ours is None:
                        raise
                    raise ours from error
                usage: dict[str, Any] = dict(raw.usage_metadata or {})
                result = LlmResult(
                    value=value,
                    model=str(raw.response_metadata.get("model_name") or model),
                    prompt_tokens=int(usage.get("input_tokens", 0)),
                    completion_tokens=int(usage.get("output_tokens", 0)),
                    parse_error=parse_error,
                    trimmed=trimmed,
                )
                span.set_attributes(
                    {
                        "supportbus.llm.prompt_tokens": result.prompt_tokens,
                        "supportbus.llm.completion_tokens": result.completion_tokens,
                        "supportbus.llm.trimmed": trimmed,
                    }
                )
                self._record(
                    model,
                    "invalid_output" if parse_error else "ok",
                    result.prompt_tokens,
                    result.completion_tokens,
                )
                return result
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _record(
        self, model: str, outcome: str, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        if self._metrics is not None:
            self._metrics.record(model, outcome, prompt_tokens, completion_tokens)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        cap = self._settings.llm_retry_max_wait_s
        retry_after = getattr(error, "retry_after_s", None)
        if isinstance(retry_after, float | int):
            return min(float(retry_after), cap)
        return float(wait_random_exponential(multiplier=0.2, max=cap)(state))


def _text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)


# The instructions, the framing and a schema are the same on every call: count them once. The
# customer's text is never cached.
@functools.lru_cache(maxsize=64)
def _fixed_tokens(system: str, before: str, after: str) -> int:
    return (
        count_tokens(system)
        + count_tokens(before)
        + count_tokens(after)
        + count_tokens(wrap_untrusted(""))
        + 2 * _MESSAGE_OVERHEAD_TOKENS
    )


@functools.lru_cache(maxsize=64)
def _schema_tokens(schema: type[BaseModel]) -> int:
    return count_tokens(json.dumps(schema.model_json_schema()))
