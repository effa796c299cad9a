from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.llm.settings import LlmSettingsMixin
from supportbus_runtime.settings import EmbeddingSettingsMixin, ServiceSettings, repo_root


class ClassifierSettings(ServiceSettings, EmbeddingSettingsMixin, LlmSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore", frozen=True)

    http_port: int = Field(default=9101, ge=0, le=65535)

    model_path: Path = Field(
        default_factory=lambda: repo_root() / "var" / "models" / "intent_model.npz"
    )
    taxonomy_path: Path = Field(default_factory=lambda: repo_root() / "data" / "taxonomy.yaml")

    provider: Literal["local", "llm", "hybrid"] = Field(
        default="local",
        description="local: the embedded model; llm: an OpenAI-compatible model decides (the "
        "local model when it cannot); hybrid: the LLM only below hybrid_threshold confidence.",
    )
    hybrid_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="In hybrid mode, local decisions at or above this calibrated confidence stand "
        "(0.5: about 3 % of requests go to the LLM; `supportbus eval classify` prints the table).",
    )
    # The handoff policy (supportbus_classifier.handoff): when a person answers instead of the
    # pipeline. The route travels forward on the events; the ticket lands in the human queue.
    handoff_on_customer_request: bool = Field(
        default=True, description="Hand off when the customer asks for a person."
    )
    handoff_confidence_below: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Hand off below this calibrated confidence (0 turns it off). 0.3: 0.5 % of "
        "the held-out requests, 7 of those 10 misclassified (`supportbus eval classify`).",
    )
    handoff_intents: list[str] = Field(
        default_factory=list,
        description="Intents people always handle, besides those the taxonomy marks `human: true` "
        "(JSON list in the environment).",
    )
