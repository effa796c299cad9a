from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import ServiceSettings


class TicketerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9103, ge=0, le=65535)

    helpdesk_url: str = "http://127.0.0.1:8085"
    helpdesk_timeout_s: float = Field(default=5.0, gt=0)
    helpdesk_attempts: int = Field(default=4, ge=1, le=20)
    helpdesk_initial_backoff_s: float = Field(default=0.2, gt=0)
    helpdesk_max_backoff_s: float = Field(default=3.0, gt=0)
