"""One way to call an OpenAI-compatible model, for every service.

``LlmClient`` talks HTTP to ``llm_base_url`` (``chat_api``: OpenAI's chat-completions format on
aiohttp), retries 429/5xx/timeouts with tenacity (honouring ``Retry-After``), keeps a circuit
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
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from supportbus_runtime.llm.breaker import CircuitBreaker
from supportbus_runtime.llm.chat_api import ChatAnswer, ChatApi, Message, tool_definition
from supportbus_runtime.llm.errors import LlmPermanentError, LlmTransientError, LlmUnavailable
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
        self._api = ChatApi(
            settings.llm_base_url,
            settings.llm_key(),
            timeout_s=settings.llm_timeout_s,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            proxy=settings.llm_proxy_url,
        )
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=settings.llm_breaker_failures,
            cooldown_s=settings.llm_breaker_cooldown_s,
        )

    # ------------------------------------------------------------------ prompt budget
    async def aclose(self) -> None:
        """Close the connection pool (at shutdown, after the consumers drained)."""
        await self._api.aclose()

    def messages(self, prompt: Prompt, *, extra_tokens: int = 0) -> tuple[list[Message], bool]:
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
        system: Message = {"role": "system", "content": prompt.system}
        return [system, {"role": "user", "content": user}], trimmed

    # ------------------------------------------------------------------ calls
    async def complete(self, prompt: Prompt) -> LlmResult[str]:
        """A plain-text answer."""
        messages, trimmed = self.messages(prompt)

        async def call(model: str) -> tuple[str, ChatAnswer, str | None]:
            answer = await self._api.create(model, messages)
            return answer.content, answer, None

        return await self._route(call, trimmed)

    async def structured(self, prompt: Prompt, schema: type[M]) -> LlmResult[M | None]:
        """One tool-calling answer parsed into ``schema``; ``value`` is None and ``parse_error``
        says why when the model's arguments were not valid JSON or did not fit the schema."""
        messages, trimmed = self.messages(prompt, extra_tokens=_schema_tokens(schema))

        tool = tool_definition(schema)
        name = tool["function"]["name"]

        async def call(model: str) -> tuple[M | None, ChatAnswer, str | None]:
            answer = await self._api.create(model, messages, tool=tool)
            calls = [c for c in answer.tool_calls if c.name == name]
            if not calls:
                return None, answer, "invalid_output:no_tool_call"
            try:
                arguments = json.loads(calls[0].arguments or "{}")
            except ValueError:
                return None, answer, "invalid_output:arguments_not_json"
            try:
                return schema.model_validate(arguments), answer, None
            except ValidationError as error:
                return None, answer, f"invalid_output:{type(error).__name__}"

        return await self._route(call, trimmed)

    async def _route(
        self,
        call: Callable[[str], Awaitable[tuple[T, ChatAnswer, str | None]]],
        trimmed: bool,
    ) -> LlmResult[T]:
        reason: str
        if self.breaker.allow():
            try:
                result = await self._attempts(call, self.primary_model, trimmed)
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
        if self.fallback_model is None:
            raise LlmUnavailable(reason)
        try:
            result = await self._attempts(call, self.fallback_model, trimmed)
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
        call: Callable[[str], Awaitable[tuple[T, ChatAnswer, str | None]]],
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
                    value, answer, parse_error = await call(model)
                except (LlmTransientError, LlmPermanentError) as error:
                    self._record(model, type(error).__name__)
                    raise
                result = LlmResult(
                    value=value,
                    model=answer.model,
                    prompt_tokens=answer.prompt_tokens,
                    completion_tokens=answer.completion_tokens,
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
