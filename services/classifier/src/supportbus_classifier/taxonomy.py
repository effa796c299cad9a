"""The intent taxonomy: every intent the classifier may decide, with its category and priority."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from supportbus_classifier.errors import TaxonomyError

PriorityName = Literal["urgent", "high", "normal", "low"]


class IntentInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    priority: PriorityName
    description: str
    # Requests of this intent always go to a person (the handoff), whatever the confidence.
    human: bool = False


class Taxonomy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    categories: dict[str, str]
    intents: dict[str, IntentInfo]

    @model_validator(mode="after")
    def _categories_exist(self) -> Taxonomy:
        unknown = {i.category for i in self.intents.values()} - self.categories.keys()
        if unknown:
            raise ValueError(f"intents use undeclared categories: {sorted(unknown)}")
        return self

    def info(self, intent: str) -> IntentInfo:
        return self.intents[intent]

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls.model_validate(raw)
        except FileNotFoundError as error:
            raise TaxonomyError(f"taxonomy file not found: {path}") from error
        except (yaml.YAMLError, ValidationError) as error:
            raise TaxonomyError(f"taxonomy file {path} is invalid: {error}") from error
