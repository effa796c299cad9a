from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import EmbeddingSettingsMixin, ServiceSettings, repo_root


class CliSettings(ServiceSettings, EmbeddingSettingsMixin):
    """Operator settings (env prefix SUPPORTBUS_). Service-specific paths come from each
    service's own settings class, so the CLI and the services always agree."""

    model_config = SettingsConfigDict(env_prefix="SUPPORTBUS_", extra="ignore", frozen=True)

    work_dir: Path = Field(default_factory=lambda: repo_root() / "var")
    sample_requests: Path = Field(
        default_factory=lambda: repo_root() / "data" / "sample_requests.jsonl"
    )
    # Downloaded Kafka jars and the built weaviate-server binary.
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "supportbus")
    helpdesk_port: int = 8085
    # A key with the tickets:read scope, for the commands that read the helpdesk (handoff list).
    # `supportbus demo` writes one at <work_dir>/demo/secrets/operator-helpdesk.key.
    helpdesk_api_key_file: Path | None = None
    log_level: str = "WARNING"  # operators watch progress bars, not library chatter

    def banking77_train(self) -> Path:
        return self.shared_dir / "datasets" / "banking77" / "train.csv"
