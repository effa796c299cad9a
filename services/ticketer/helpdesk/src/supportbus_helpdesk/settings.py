"""Settings of the helpdesk, read from ``HELPDESK_*`` environment variables.

This is the only module that reads the environment; everything else receives a
``HelpdeskSettings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    log_level: LogLevel = "info"
    telemetry_exporter: Literal["none", "file", "otlp-grpc", "otlp-http"] = "none"
    telemetry_dir: Path = Path("var/traces")
    otlp_endpoint: str = ""
    faults_enabled: bool = Field(
        default=False,
        description="Honour the X-Fault header on POST /v1/tickets. Test environments only.",
    )

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
