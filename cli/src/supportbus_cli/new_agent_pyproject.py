"""The root pyproject.toml edits of `supportbus new-agent`: a workspace member is added to the
workspace's ``dependencies`` and ``[tool.uv.sources]``; a standalone agent to the workspace's
``exclude`` (it has its own lockfile and environment). Edits of the text, so its layout and
comments stay as they are; each is checked by parsing the result."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from supportbus_cli.new_agent_names import AgentNames
from supportbus_runtime.errors import ConfigurationError


def _workspace(project: dict[str, Any]) -> dict[str, Any]:
    workspace: dict[str, Any] = project.get("tool", {}).get("uv", {}).get("workspace", {})
    if "agents/*" not in workspace.get("members", []):
        raise ConfigurationError(
            "not a supportbus workspace root: the pyproject.toml's [tool.uv.workspace] members "
            'do not include "agents/*" (point --root at the checkout)'
        )
    return workspace


def with_agent(pyproject: str, names: AgentNames) -> str:
    """The root pyproject.toml's text with the agent added to ``dependencies`` and
    ``[tool.uv.sources]``: an edit of the text, so its layout and comments stay as they are."""
    project = tomllib.loads(pyproject)
    _workspace(project)
    if names.distribution in project.get("project", {}).get("dependencies", []):
        raise ConfigurationError(f"the workspace already depends on {names.distribution}")
    dependencies = re.search(r"(?ms)^\[project\]$.*?^dependencies = \[\n(.*?)^\]", pyproject)
    sources = re.search(r"(?ms)^\[tool\.uv\.sources\]\n(.*?)(?=^\[|\Z)", pyproject)
    if dependencies is None or sources is None:
        raise ConfigurationError(
            "cannot find [project] dependencies = [...] and [tool.uv.sources] in pyproject.toml"
        )
    listed = dependencies.group(1).rstrip()
    comma = "" if not listed or listed.endswith((",", "[")) else ","
    insertions = {
        # after the last entry of [tool.uv.sources], before any blank line that ends it
        sources.start(1) + len(sources.group(1).rstrip()): (
            f"\n{names.distribution} = {{ workspace = true }}"
        ),
        dependencies.start(1) + len(listed): f'{comma}\n    "{names.distribution}",',
    }
    text = pyproject
    for at in sorted(insertions, reverse=True):  # the later first: the earlier stays put
        text = text[:at] + insertions[at] + text[at:]
    try:
        edited = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        edited = {}
    added = edited.get("tool", {}).get("uv", {}).get("sources", {}).get(names.distribution)
    if names.distribution not in edited.get("project", {}).get("dependencies", []) or not added:
        raise ConfigurationError("could not add the agent to pyproject.toml; add it by hand")
    return text


def without_agent(pyproject: str, names: AgentNames) -> str:
    """The root pyproject.toml's text with a standalone agent's directory added to
    ``[tool.uv.workspace] exclude`` (the list is created when there is none)."""
    entry = names.agent_dir
    if entry in _workspace(tomllib.loads(pyproject)).get("exclude", []):
        raise ConfigurationError(f"the workspace already excludes {entry}")
    section = re.search(r"(?ms)^\[tool\.uv\.workspace\]\n(.*?)(?=^\[|\Z)", pyproject)
    if section is None:  # pragma: no cover - _workspace found the table
        raise ConfigurationError("cannot find [tool.uv.workspace] in pyproject.toml")
    listed = re.search(r"(?m)^exclude = \[(.*?)\]", section.group(1))
    if listed is None:
        at = section.start(1) + len(section.group(1).rstrip())
        text = pyproject[:at] + f'\nexclude = ["{entry}"]' + pyproject[at:]
    else:
        at = section.start(1) + listed.end(1)
        comma = ", " if listed.group(1).strip() else ""
        text = pyproject[:at] + f'{comma}"{entry}"' + pyproject[at:]
    try:
        excluded = _workspace(tomllib.loads(text)).get("exclude", [])
    except tomllib.TOMLDecodeError:
        excluded = []
    if entry not in excluded:
        raise ConfigurationError("could not add the agent to pyproject.toml; add it by hand")
    return text
