from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.llm.settings import LlmSettingsMixin
from supportbus_runtime.settings import ServiceSettings, repo_root


class ReviewerSettings(ServiceSettings, LlmSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="REVIEWER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9106, ge=0, le=65535)

    kb_dir: Path = Field(
        default_factory=lambda: repo_root() / "data" / "kb",
        description="The articles (*.md) the replies cite: response.ready events carry only "
        "their ids.",
    )
    min_score: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="A reply scored below this (or with an ungrounded claim or a promise the "
        "articles do not make) is flagged.",
    )
    brand: str = "Northwind Bank"
    max_article_chars: int = Field(
        default=4_000,
        ge=200,
        le=20_000,
        description="Each cited article is cut to this many characters in the prompt.",
    )
    # A review spends CrewAI's own CPU (about 20 ms) on a thread of this pool, then waits there
    # for its LLM call, which runs on the event loop through the runtime's LLM client.
    crew_threads: int = Field(
        default=16, ge=1, le=256, description="Reviews that may run at the same time."
    )
    review_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="A review that takes longer (LLM retries included) is given up and retried "
        "by the delivery policy.",
    )
    # A review is a JSON object with up to ten findings: more room than a reply's 400.
    llm_max_tokens: int = Field(default=800, ge=16)
