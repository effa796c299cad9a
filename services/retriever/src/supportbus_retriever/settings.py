from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import EmbeddingSettingsMixin, ServiceSettings, repo_root


class RetrieverSettings(ServiceSettings, EmbeddingSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="RETRIEVER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9102, ge=0, le=65535)

    kb_dir: Path = Field(default_factory=lambda: repo_root() / "data" / "kb")
    index_dir: Path = Field(default_factory=lambda: repo_root() / "var" / "index")
    top_k: int = Field(default=3, ge=1, le=20)
    kb_base_url: str = "https://help.northwind.example/articles"
    intent_boost: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Score added to articles tagged with the classified intent (0 disables).",
    )
    intent_boost_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
