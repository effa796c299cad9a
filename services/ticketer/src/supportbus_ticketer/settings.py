from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.secret_files import read_secret_file
from supportbus_runtime.settings import ServiceSettings


class TicketerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TICKETER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9103, ge=0, le=65535)

    helpdesk_url: str = "http://127.0.0.1:8085"
    # One POST per attempt; retries (timeouts, connection errors, 429, 5xx) belong to the
    # delivery policy: TICKETER_RETRY_ATTEMPTS / _RETRY_BUDGET_S / _RETRY_*_BACKOFF_S.
    helpdesk_timeout_s: float = Field(default=5.0, gt=0)
    helpdesk_max_connections: int = Field(default=100, ge=1)
    helpdesk_api_key_file: Path | None = Field(
        default=None,
        description=(
            "File holding the helpdesk API key (scope tickets:create), e.g. a mounted secret; "
            "sent as 'Authorization: Bearer'. None: no key (a helpdesk with auth disabled)."
        ),
    )

    def helpdesk_api_key(self) -> SecretStr | None:
        """The key in ``helpdesk_api_key_file``, read when the service is built (a secret file
        need not exist where settings are merely checked)."""
        path = self.helpdesk_api_key_file
        if path is None:
            return None
        return SecretStr(read_secret_file(path, "TICKETER_HELPDESK_API_KEY_FILE"))
