from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import EmbeddingSettingsMixin, ServiceSettings, repo_root


class ClassifierSettings(ServiceSettings, EmbeddingSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9101, ge=0, le=65535)

    model_path: Path = Field(
        default_factory=lambda: repo_root() / "var" / "models" / "intent_model.npz"
    )
    taxonomy_path: Path = Field(default_factory=lambda: repo_root() / "data" / "taxonomy.yaml")
