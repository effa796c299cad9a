"""Which agents are standalone: listed in the root pyproject.toml's ``[tool.uv.workspace]
exclude`` (``agents/NAME``), so they live in an environment of their own, from their own
lockfile, instead of the workspace's (e.g. reviewer: CrewAI pins pydantic below what the
workspace resolves). The stack runs them from their own ``.venv``; the workspace's pytest run
and compose checks leave them to their own tests (scripts/test runs those)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from supportbus_runtime.settings import repo_root

__all__ = ["standalone_agents"]


def standalone_agents(root: Path | None = None) -> tuple[str, ...]:
    """The names of the standalone agents under ``root``'s ``agents/`` (default: this checkout)."""
    pyproject = tomllib.loads(((root or repo_root()) / "pyproject.toml").read_text())
    excluded = pyproject.get("tool", {}).get("uv", {}).get("workspace", {}).get("exclude", [])
    return tuple(sorted(e.removeprefix("agents/") for e in excluded if e.startswith("agents/")))
