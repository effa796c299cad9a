from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import ServiceSettings


class TicketerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9103, ge=0, le=65535)

    helpdesk_url: str = "http://127.0.0.1:8085"
    # One POST per attempt; retries (timeouts, connection errors, 429, 5xx) belong to the
    # delivery policy: TICKETER_RETRY_ATTEMPTS / _RETRY_BUDGET_S / _RETRY_*_BACKOFF_S.
    helpdesk_timeout_s: float = Field(default=5.0, gt=0)
    helpdesk_max_connections: int = Field(default=100, ge=1)
