"""`supportbus asyncapi`: the services' AsyncAPI documents, committed under docs/asyncapi/.

Generated from the services' declarations alone, so a clean clone can write them before
`prepare`: no settings are read, no model or index is loaded, no broker is reached. Which
declarations: those every installed package names under the ``supportbus.declarations`` entry
point group (the four core services and any agent), so a new agent's document appears without
touching the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

from supportbus_devtools.asyncapi import asyncapi_document
from supportbus_runtime.declaration import ServiceDeclaration
from supportbus_runtime.errors import ConfigurationError
from supportbus_runtime.settings import repo_root

DEFAULT_DIR = repo_root() / "docs" / "asyncapi"


ENTRY_POINT_GROUP = "supportbus.declarations"
PIPELINE = ("classifier", "retriever", "ticketer", "responder")


def _installed() -> dict[str, tuple[ServiceDeclaration, str]]:
    """Each installed declaration by name, with the version of the distribution naming it."""
    found: dict[str, tuple[ServiceDeclaration, str]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        declaration = point.load()
        if not isinstance(declaration, ServiceDeclaration):
            raise ConfigurationError(f"entry point {point.value} is not a ServiceDeclaration")
        if declaration.name in found:
            raise ConfigurationError(f"two installed packages declare {declaration.name!r}")
        found[declaration.name] = (declaration, version(point.dist.name) if point.dist else "0")
    return found


def declarations() -> dict[str, ServiceDeclaration]:
    """Every installed declaration: the core services in pipeline order, then the agents by name."""
    order = {name: i for i, name in enumerate(PIPELINE)}
    installed = _installed()
    names = sorted(installed, key=lambda name: (order.get(name, len(order)), name))
    return {name: installed[name][0] for name in names}


def documents(declared: Mapping[str, ServiceDeclaration]) -> dict[str, dict[str, Any]]:
    versions = {name: entry[1] for name, entry in _installed().items()}
    return {
        name: asyncapi_document(declaration, version=versions.get(name, "0"))
        for name, declaration in declared.items()
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(declared: Mapping[str, ServiceDeclaration], directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents(declared).items():
        path = directory / f"{name}.asyncapi.json"
        path.write_text(render(document))
        written.append(path)
    return written
