from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
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

    store: Literal["local", "weaviate"] = Field(
        default="local",
        description="local: the persisted LlamaIndex store in index_dir; weaviate: a server.",
    )
    weaviate_url: str = Field(
        default="http://127.0.0.1:8080", description="REST endpoint; gRPC is on the same host."
    )
    weaviate_grpc_port: int = Field(default=50051, ge=1, le=65535)
    weaviate_api_key: SecretStr | None = None
    weaviate_collection: str = Field(
        default="SupportArticles",
        pattern=r"^[A-Z][_0-9A-Za-z]*$",
        description="Weaviate collection names start with a capital letter.",
    )
    weaviate_timeout_s: float = Field(default=10.0, gt=0, le=300)
    search_mode: Literal["vector", "hybrid"] = Field(
        default="hybrid", description="weaviate: vector only, or BM25 and vector fused."
    )
    # 0.9, not the usual 0.5: Weaviate's BM25 does not stem ("stole" misses "stolen"), and on
    # held-out Banking77 texts alpha 0.5 gave recall@3 0.753, 0.75 gave 0.897, 0.9 gave 0.903
    # (vector alone: 0.904); the keyword side still helps with exact terms (card brands, IBAN).
    hybrid_alpha: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Weight of the vector side (1 = vector only)."
    )

    @field_validator("weaviate_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8080")
        return value.rstrip("/")

    def weaviate_api_key_value(self) -> str | None:
        return self.weaviate_api_key.get_secret_value() if self.weaviate_api_key else None
