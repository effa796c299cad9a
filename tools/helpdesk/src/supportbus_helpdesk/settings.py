"""Settings of the helpdesk, read from ``HELPDESK_*`` environment variables.

This is the only module that reads the environment; everything else receives a
``HelpdeskSettings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from supportbus_helpdesk.faults import MAX_DELAY_S

LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]


class HelpdeskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8085, ge=0, le=65535)
    db_path: Path = Field(
        default=Path("var/helpdesk.sqlite3"),
        description="SQLite file; a relative path is resolved against the working directory.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8085",
        description="Base of the ticket URLs handed to clients (what customers/agents can reach).",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description=(
            "Digests of the API keys the helpdesk accepts, one 'name scopes sha256:<hex>' per "
            "line (make them with supportbus-helpdesk-keys). Required unless auth_disabled."
        ),
    )
    auth_disabled: bool = Field(
        default=False,
        description="Answer every caller without a key. Only for a sandbox nobody else reaches.",
    )
    log_level: LogLevel = "info"
    telemetry_exporter: Literal["none", "file", "otlp-grpc", "otlp-http"] = "none"
    telemetry_dir: Path = Path("var/traces")
    otlp_endpoint: str = ""
    faults_enabled: bool = Field(
        default=False,
        description=(
            "Honour the X-Fault header and the rate-based faults below on POST /v1/tickets, and "
            "serve /_faults to 127.0.0.1. Test environments only."
        ),
    )
    # The rates below are only the starting values: PUT /_faults changes them at runtime.
    faults_5xx_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Fraction of creates answered 503, unwritten."
    )
    faults_slow_create_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Fraction of new tickets written first and answered faults_slow_create_s late.",
    )
    faults_slow_create_s: float = Field(default=5.0, ge=0.0, le=MAX_DELAY_S)
    faults_seed: int | None = Field(
        default=None, description="Seed of the faults' random stream, for reproducible runs."
    )

    @model_validator(mode="after")
    def _authentication_is_configured(self) -> HelpdeskSettings:
        # Secure by default: a helpdesk holds customers' names and e-mails, so running without
        # keys has to be asked for by name.
        if self.api_keys_file is None and not self.auth_disabled:
            raise ValueError(
                "set HELPDESK_API_KEYS_FILE to a file of API key digests (make one with "
                "supportbus-helpdesk-keys), or HELPDESK_AUTH_DISABLED=true for a sandbox that "
                "nobody else can reach"
            )
        if self.api_keys_file is not None and self.auth_disabled:
            raise ValueError("HELPDESK_API_KEYS_FILE and HELPDESK_AUTH_DISABLED=true contradict")
        return self

    @field_validator("public_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        # Ticket URLs are built by appending "/v1/tickets/<id>"; a trailing slash would double it.
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _lowercase_log_level(cls, value: object) -> object:
        # The other supportbus services spell levels "INFO"; uvicorn wants "info". Accept both.
        return value.lower() if isinstance(value, str) else value
