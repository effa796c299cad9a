"""Prometheus series of LLM use: calls and tokens by model, so cost and fallbacks are visible."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class LlmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "supportbus_llm_calls_total",
            "LLM calls by model and outcome",
            ["model", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "supportbus_llm_tokens_total",
            "LLM tokens by model and kind",
            ["model", "kind"],
            registry=registry,
        )

    def record(
        self, model: str, outcome: str, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        self.calls.labels(model=model, outcome=outcome).inc()
        if prompt_tokens:
            self.tokens.labels(model=model, kind="prompt").inc(prompt_tokens)
        if completion_tokens:
            self.tokens.labels(model=model, kind="completion").inc(completion_tokens)
