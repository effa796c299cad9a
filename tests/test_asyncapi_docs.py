"""The committed AsyncAPI documents are what the services' declarations generate today, and
generating them needs no model, index, settings or broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from supportbus_cli import asyncapi_docs
from supportbus_contracts import RequestReceived


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    declared = asyncapi_docs.declarations()
    return {name: asyncapi_docs.render(d) for name, d in asyncapi_docs.documents(declared).items()}


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


_GENERATE = """
import json, sys
from supportbus_cli import asyncapi_docs
rendered = {n: asyncapi_docs.render(d)
            for n, d in asyncapi_docs.documents(asyncapi_docs.declarations()).items()}
loaded = [m for m in sys.modules if m.split(".")[0] in {"onnxruntime", "fastembed", "llama_index"}
          or m in {"supportbus_runtime.embedding", "supportbus_classifier.linear_model",
                   "supportbus_retriever.llama_index_store", "supportbus_runtime.app"}]
print(json.dumps({"rendered": rendered, "loaded": loaded}))
"""


def test_documents_are_generated_without_model_index_or_service_app() -> None:
    # As on a clean clone before `prepare`: every model and index path points nowhere.
    nowhere = "/nonexistent/supportbus"
    env = {
        **os.environ,
        "CLASSIFIER_MODEL_PATH": f"{nowhere}/model.npz",
        "CLASSIFIER_EMBEDDING_MODEL_PATH": f"{nowhere}/minilm",
        "CLASSIFIER_SHARED_DIR": nowhere,
        "RETRIEVER_INDEX_DIR": f"{nowhere}/index",
        "RETRIEVER_EMBEDDING_MODEL_PATH": f"{nowhere}/minilm",
        "RETRIEVER_SHARED_DIR": nowhere,
        "RETRIEVER_KB_DIR": f"{nowhere}/kb",
    }
    result = subprocess.run(
        [sys.executable, "-c", _GENERATE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["loaded"] == []
    for name, text in output["rendered"].items():
        assert (asyncapi_docs.DEFAULT_DIR / f"{name}.asyncapi.json").read_text() == text
    assert set(output["rendered"]) >= {"classifier", "retriever", "ticketer", "responder"}
