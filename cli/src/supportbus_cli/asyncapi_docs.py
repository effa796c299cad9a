"""`supportbus asyncapi`: the services' AsyncAPI documents, committed under docs/asyncapi/.

Generated from the services' declarations alone, so a clean clone can write them before
`prepare`: no settings are read, no model or index is loaded, no broker is reached.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from supportbus_classifier.declaration import DECLARATION as CLASSIFIER
from supportbus_devtools.asyncapi import asyncapi_document
from supportbus_responder.declaration import DECLARATION as RESPONDER
from supportbus_retriever.declaration import DECLARATION as RETRIEVER
from supportbus_runtime.declaration import ServiceDeclaration
from supportbus_runtime.settings import repo_root
from supportbus_ticketer.declaration import DECLARATION as TICKETER

DEFAULT_DIR = repo_root() / "docs" / "asyncapi"


def declarations() -> dict[str, ServiceDeclaration]:
    """The four services' declarations, in pipeline order."""
    return {d.name: d for d in (CLASSIFIER, RETRIEVER, TICKETER, RESPONDER)}


def documents(declared: Mapping[str, ServiceDeclaration]) -> dict[str, dict[str, Any]]:
    return {
        name: asyncapi_document(declaration, version=version(f"supportbus-{name}"))
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
