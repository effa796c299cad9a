"""Cross-service fixtures: a real Kafka broker, and the trained artifacts the services load.

Kafka comes from, in order: KAFKA_BOOTSTRAP_SERVERS (an external broker); testcontainers, where a
Docker engine answers; otherwise a local KRaft broker this project fetches and starts itself.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import LabelledTexts, read_labelled_csv
from supportbus_cli.settings import CliSettings
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig
from supportbus_devtools.localweaviate import LocalWeaviate, LocalWeaviateConfig, WeaviateEndpoint
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import MiniLMEmbedder

# Examples per intent for the end-to-end model: enough for sensible routing, quick to embed.
E2E_EXAMPLES_PER_INTENT = 20


def _docker_engine_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if _docker_engine_available():
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer("apache/kafka:4.1.1").with_kraft()
        container.with_env("KAFKA_MESSAGE_MAX_BYTES", "10485760")
        with container:
            yield container.get_bootstrap_server()
        return
    settings = CliSettings()
    kafka = LocalKafka(
        LocalKafkaConfig(
            data_dir=tmp_path_factory.mktemp("kafka"), cache_dir=settings.cache_dir, port=0
        )
    )
    kafka.start()
    try:
        yield kafka.bootstrap_servers
    finally:
        kafka.stop()


@pytest.fixture
def topic_prefix() -> str:
    """Each test gets its own topics (and consumer groups) on the shared broker."""
    return f"t{uuid.uuid4().hex[:8]}."


def _subset(data: LabelledTexts, per_intent: int) -> LabelledTexts:
    rng = random.Random(3)
    pairs = list(zip(data.texts, data.labels, strict=True))
    rng.shuffle(pairs)
    kept: dict[str, int] = {}
    subset = LabelledTexts([], [])
    for text, label in pairs:
        if kept.get(label, 0) < per_intent:
            kept[label] = kept.get(label, 0) + 1
            subset.texts.append(text)
            subset.labels.append(label)
    return subset


@pytest.fixture(scope="session")
def banking77() -> LabelledTexts:
    return read_labelled_csv(CliSettings().banking77_train())


@pytest.fixture(scope="session")
def service_env(
    tmp_path_factory: pytest.TempPathFactory, banking77: LabelledTexts
) -> dict[str, str]:
    """A real MiniLM intent model and knowledge index in a temp dir, as the services' env."""
    from supportbus_classifier.linear_model import LinearIntentModel

    root = tmp_path_factory.mktemp("artifacts")
    classifier = ClassifierSettings(model_path=root / "intent_model.npz")
    embedder = MiniLMEmbedder(classifier.resolved_model_path(classifier.shared_dir))
    data = _subset(banking77, E2E_EXAMPLES_PER_INTENT)
    assert set(data.labels) == set(Taxonomy.load(classifier.taxonomy_path).intents)
    LinearIntentModel.train(data.texts, data.labels, embedder=embedder).save(classifier.model_path)
    retriever = RetrieverSettings(index_dir=root / "index")
    LlamaIndexKnowledgeIndex.build(retriever.kb_dir, retriever.index_dir, embedder=embedder)
    return {
        "CLASSIFIER_MODEL_PATH": str(classifier.model_path),
        "RETRIEVER_INDEX_DIR": str(retriever.index_dir),
    }


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def weaviate_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeaviateEndpoint]:
    """A real Weaviate: WEAVIATE_URL (+ WEAVIATE_GRPC_PORT, default 50051) when set, otherwise
    a local server this project builds once (cached in ~/.cache/supportbus) and starts on free
    ports. Tests share it and keep apart by using their own collections."""
    external = os.environ.get("WEAVIATE_URL")
    if external:
        yield WeaviateEndpoint(external, int(os.environ.get("WEAVIATE_GRPC_PORT", "50051")))
        return
    server = LocalWeaviate(
        LocalWeaviateConfig(
            data_dir=tmp_path_factory.mktemp("weaviate"),
            cache_dir=CliSettings().cache_dir,
            http_port=0,
            grpc_port=0,
        )
    )
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture(scope="session")
def toxiproxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Toxiproxy API URL: TOXIPROXY_URL when set, otherwise a local server this project
    builds once (cached in ~/.cache/supportbus) and starts on a free port. Tests share it and
    keep apart by creating their own proxies. (traffic() needs a server with -proxy-metrics.)"""
    from supportbus_devtools.toxiproxy import LocalToxiproxy

    external = os.environ.get("TOXIPROXY_URL")
    if external:
        yield external
        return
    server = LocalToxiproxy(tmp_path_factory.mktemp("toxiproxy"), CliSettings().cache_dir)
    server.start()
    try:
        yield server.api_url
    finally:
        server.stop()
