"""`supportbus asyncapi`: the services' AsyncAPI documents, committed under docs/asyncapi/."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from supportbus_classifier.app import build_app as build_classifier
from supportbus_classifier.settings import ClassifierSettings
from supportbus_devtools.asyncapi import asyncapi_document
from supportbus_responder.app import build_app as build_responder
from supportbus_responder.settings import ResponderSettings
from supportbus_retriever.app import build_app as build_retriever
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.app import ServiceApp
from supportbus_runtime.settings import repo_root
from supportbus_ticketer.app import build_app as build_ticketer
from supportbus_ticketer.settings import TicketerSettings

DEFAULT_DIR = repo_root() / "docs" / "asyncapi"


def service_apps(
    classifier: ClassifierSettings | None = None, retriever: RetrieverSettings | None = None
) -> dict[str, ServiceApp]:
    """The four apps as their composition roots build them (model and index must exist)."""
    return {
        "classifier": build_classifier(classifier or ClassifierSettings()),
        "retriever": build_retriever(retriever or RetrieverSettings()),
        "ticketer": build_ticketer(TicketerSettings()),
        "responder": build_responder(ResponderSettings()),
    }


def documents(apps: dict[str, ServiceApp]) -> dict[str, dict[str, Any]]:
    return {
        name: asyncapi_document(app, version=version(f"supportbus-{name}"))
        for name, app in apps.items()
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(apps: dict[str, ServiceApp], directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents(apps).items():
        path = directory / f"{name}.asyncapi.json"
        path.write_text(render(document))
        written.append(path)
    return written
