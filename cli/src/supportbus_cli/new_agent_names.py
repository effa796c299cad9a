"""Every name an agent's files use, derived from its NAME (`supportbus new-agent`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentNames:
    """Every name the agent's files use, derived from its NAME."""

    name: str

    @property
    def package(self) -> str:
        return "supportbus_" + self.module

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def distribution(self) -> str:
        return "supportbus-" + self.name

    @property
    def env_prefix(self) -> str:
        return self.module.upper() + "_"

    @property
    def camel(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    @property
    def event_class(self) -> str:
        return f"{self.camel}Noted"

    @property
    def event_type(self) -> str:
        return f"support.{self.name}.noted"

    @property
    def event_topic(self) -> str:
        return f"{self.event_type}.v1"

    @property
    def agent_dir(self) -> str:
        return f"agents/{self.name}"
