from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supportbus_runtime.settings import ServiceSettings, repo_root

# On the local store's scale (the vector cosine of the article's place, plus the retriever's
# intent lift of 0.15). Measured on 600 held-out Banking77 requests through a classifier and an
# index built without them: 0.8 flags 2.5 % of requests, half of them misclassified (against
# 8 % overall); see agents/kb-gaps/README.md.
DEFAULT_MIN_SCORE = 0.8


class KbGapsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KB_GAPS_", extra="ignore", frozen=True)

    http_port: int = Field(default=9105, ge=0, le=65535)

    kb_dir: Path = Field(
        default_factory=lambda: repo_root() / "data" / "kb",
        description="The articles (*.md); their front matter says which intents each answers.",
    )
    min_score: float = Field(
        default=DEFAULT_MIN_SCORE,
        description="A request whose best answering article scores below this is a gap.",
    )
