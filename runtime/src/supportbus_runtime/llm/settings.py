"""LLM provider settings, shared by every service that may call an OpenAI-compatible endpoint."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from supportbus_runtime.errors import ConfigurationError


class LlmSettingsMixin(BaseSettings):
    """Mixed into a service's settings; read with the service's prefix (``CLASSIFIER_LLM_...``)."""

    llm_base_url: str = Field(
        default="http://127.0.0.1:8787/v1", description="Any OpenAI-compatible /v1 endpoint."
    )
    llm_model: str = "gpt-4o-mini"
    llm_fallback_model: str = Field(
        default="", description="Asked when the primary fails or its circuit is open; '' = none."
    )
    llm_api_key: SecretStr | None = None
    llm_api_key_file: Path | None = Field(
        default=None, description="A file holding the key (e.g. a mounted secret)."
    )
    llm_proxy_url: str = Field(
        default="",
        description="An HTTP proxy for the LLM endpoint; '' = none. HTTPS_PROXY is not read.",
    )
    llm_timeout_s: float = Field(default=20.0, gt=0)
    llm_max_tokens: int = Field(default=400, ge=16)
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    llm_token_budget: int = Field(
        default=6_000, ge=256, description="Prompt + completion tokens allowed per request."
    )
    llm_retry_attempts: int = Field(default=3, ge=1, le=10)
    llm_retry_max_wait_s: float = Field(default=10.0, gt=0)
    llm_breaker_failures: int = Field(
        default=5, ge=1, description="Consecutive failed calls that open the circuit."
    )
    llm_breaker_cooldown_s: float = Field(default=30.0, gt=0)
    llm_max_input_chars: int = Field(default=4_000, ge=100)
    allow_pii_to_llm: bool = False

    def llm_key(self) -> str:
        """The API key: the setting, else the file, else a placeholder for keyless endpoints."""
        if self.llm_api_key is not None:
            return self.llm_api_key.get_secret_value()
        if self.llm_api_key_file is not None:
            try:
                return self.llm_api_key_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ConfigurationError(
                    f"cannot read the LLM API key file {self.llm_api_key_file}: {error}"
                ) from error
        return "not-needed"
