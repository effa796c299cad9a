"""The committed AsyncAPI documents are what the services' code generates today."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbus_classifier.settings import ClassifierSettings
from supportbus_cli import asyncapi_docs
from supportbus_contracts import RequestReceived
from supportbus_retriever.settings import RetrieverSettings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def generated(service_env: dict[str, str]) -> dict[str, str]:
    apps = asyncapi_docs.service_apps(
        ClassifierSettings(model_path=Path(service_env["CLASSIFIER_MODEL_PATH"])),
        RetrieverSettings(index_dir=Path(service_env["RETRIEVER_INDEX_DIR"])),
    )
    return {name: asyncapi_docs.render(doc) for name, doc in asyncapi_docs.documents(apps).items()}


def test_committed_asyncapi_documents_match_the_code(generated: dict[str, str]) -> None:
    for name, text in generated.items():
        path = asyncapi_docs.DEFAULT_DIR / f"{name}.asyncapi.json"
        assert path.exists(), f"{path} missing: run `supportbus asyncapi`"
        assert path.read_text() == text, f"{path} is stale: run `supportbus asyncapi`"


def test_documents_describe_topics_and_payload_schemas(generated: dict[str, str]) -> None:
    classifier = generated["classifier"]
    assert '"address": "support.request.received.v1"' in classifier
    assert '"address": "support.request.classified.v1"' in classifier
    assert '"address": "support.request.received.v1.dlq"' in classifier
    for field in RequestReceived.model_fields:
        assert f'"{field}"' in classifier
