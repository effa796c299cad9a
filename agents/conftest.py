"""Agents under agents/ are collected by the workspace's pytest run, except standalone ones
(``supportbus_devtools.workspace``): they live in an environment of their own, and
scripts/test runs their tests there."""

from __future__ import annotations

from supportbus_devtools.workspace import standalone_agents

collect_ignore = list(standalone_agents())
