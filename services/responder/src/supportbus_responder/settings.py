from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.llm.settings import LlmSettingsMixin
from supportbus_runtime.settings import ServiceSettings


class ResponderSettings(ServiceSettings, LlmSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="RESPONDER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9104, ge=0, le=65535)

    brand: str = "Northwind Bank"
    max_cited_articles: int = Field(default=2, ge=1, le=5)
    composer: Literal["template", "llm"] = Field(
        default="template",
        description="template: the deterministic reply; llm: an OpenAI-compatible model writes "
        "it, checked after generation, the template reply when the check fails.",
    )
    max_reply_chars: int = Field(default=2_000, ge=200, le=20_000)
