from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import ServiceSettings


class ResponderSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RESPONDER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9104, ge=0, le=65535)

    brand: str = "Northwind Bank"
    max_cited_articles: int = Field(default=2, ge=1, le=5)
