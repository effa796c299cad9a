from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from supportbus_retriever.errors import SearchModeUnsupported
from supportbus_runtime.settings import EmbeddingSettingsMixin, ServiceSettings, repo_root

StoreName = Literal["local", "weaviate", "haystack"]
SearchMode = Literal["vector", "lexical", "fused", "hybrid"]
# What each store can search, its default first.
STORE_MODES: dict[StoreName, tuple[SearchMode, ...]] = {
    "local": ("fused", "vector", "lexical"),
    "weaviate": ("hybrid", "vector"),
    "haystack": ("fused", "vector", "lexical"),
}


def check_search_mode(store: StoreName, mode: SearchMode | None) -> SearchMode:
    """``mode`` if ``store`` can search that way (None: the store's default), else
    SearchModeUnsupported (a ConfigurationError and a ValueError)."""
    modes = STORE_MODES[store]
    if mode is None:
        return modes[0]
    if mode not in modes:
        other = next(s for s, m in STORE_MODES.items() if mode in m)
        raise SearchModeUnsupported(
            f"the {store} store searches {'|'.join(sorted(modes))}, not {mode} "
            f"({mode} is the {other} store's)"
        )
    return mode


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

    store: StoreName = Field(
        default="local",
        description="local: the persisted LlamaIndex store in index_dir; weaviate: a server; "
        "haystack: a Haystack pipeline over the articles, indexed in memory at start (needs "
        "the supportbus-retriever[haystack] extra; no question expansion).",
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
    search_mode: SearchMode | None = Field(
        default=None,
        description=(
            "local: vector, lexical (BM25) or fused (both, by RRF; the default); "
            "weaviate: vector or hybrid (Weaviate's own BM25 fusion; the default); "
            "haystack: vector, lexical or fused (its DocumentJoiner's RRF; the default)."
        ),
    )
    # Question expansion (supportbus_retriever.expansion): the local index's BM25 also indexes
    # labelled customer questions under the articles tagged with their intent.
    expansion: bool = Field(
        default=True, description="Index labelled questions with the articles (local store)."
    )
    expansion_csv: Path | None = Field(
        default=None,
        description="Banking77-format CSV (text,category) of the questions; default: the "
        "training CSV `supportbus train` reads, <shared_dir>/datasets/banking77/train.csv. "
        "Missing: the index is built from the articles alone.",
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

    def resolved_search_mode(self) -> SearchMode:
        """Checked when the service builds its index: a wrong pair fails the start."""
        return check_search_mode(self.store, self.search_mode)

    def expansion_path(self) -> Path | None:
        """The questions' CSV (None: expansion switched off); it may not exist."""
        if not self.expansion:
            return None
        return self.expansion_csv or self.shared_dir / "datasets" / "banking77" / "train.csv"

    def weaviate_api_key_value(self) -> str | None:
        return self.weaviate_api_key.get_secret_value() if self.weaviate_api_key else None
