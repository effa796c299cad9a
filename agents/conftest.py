"""Agents under agents/ are collected by the workspace's pytest run, except standalone ones:
an agent with a lockfile of its own (e.g. reviewer, whose CrewAI pins pydantic below what the
workspace resolves) lives in its own environment, and scripts/test runs its tests there."""

from __future__ import annotations

from pathlib import Path

collect_ignore = sorted(
    path.name for path in Path(__file__).parent.iterdir() if (path / "uv.lock").is_file()
)
