"""The local Weaviate the retriever's integration tests run on: built once, started on free ports,
answering REST and gRPC, keeping its data across restarts, and gone when stopped."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import weaviate
from weaviate.classes.config import Configure, DataType, Property

from supportbus_devtools.localweaviate import (
    LocalWeaviate,
    LocalWeaviateConfig,
    LocalWeaviateError,
    ensure_weaviate_binary,
)
from supportbus_devtools.testing import process_gone

CACHE = Path.home() / ".cache" / "supportbus"



def _client(server: LocalWeaviate) -> weaviate.WeaviateClient:
    return weaviate.connect_to_local(
        host="127.0.0.1", port=server.http_port, grpc_port=server.grpc_port
    )


def test_port_in_use_fails_before_anything_is_built(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = LocalWeaviate(
            LocalWeaviateConfig(data_dir=tmp_path, cache_dir=tmp_path, http_port=port, grpc_port=0)
        )
        with pytest.raises(LocalWeaviateError, match=r"HTTP port .* already in use"):
            server.start()
    assert not server.is_running()
    assert not list(tmp_path.glob("weaviate-*"))  # no build was attempted


def test_zero_ports_become_six_distinct_free_ports(tmp_path: Path) -> None:
    server = LocalWeaviate(LocalWeaviateConfig(data_dir=tmp_path, http_port=0, grpc_port=0))
    ports = [
        server.http_port,
        server.grpc_port,
        server.gossip_port,
        server.data_port,
        server.raft_port,
        server.raft_rpc_port,
    ]
    assert len(set(ports)) == 6
    assert 0 not in ports
    assert server.url == f"http://127.0.0.1:{server.http_port}"


def test_building_without_go_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `go` here
    with pytest.raises(LocalWeaviateError, match=r"Go 1\.25"):
        ensure_weaviate_binary(tmp_path / "cache")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWeaviate]:
    local = LocalWeaviate(
        LocalWeaviateConfig(
            data_dir=tmp_path_factory.mktemp("weaviate"), cache_dir=CACHE, http_port=0, grpc_port=0
        )
    )
    local.start()
    yield local
    local.stop()


@pytest.mark.integration
def test_server_answers_rest_and_grpc_with_no_modules(server: LocalWeaviate) -> None:
    with _client(server) as client:
        assert client.is_ready()
        meta = client.get_meta()
        assert meta["modules"] == {}  # nothing that could call out to the internet
        collection = client.collections.create(
            "Smoke",
            vector_config=Configure.Vectors.self_provided(),
            properties=[Property(name="text", data_type=DataType.TEXT)],
        )
        collection.data.insert({"text": "hello"}, vector=[1.0, 0.0, 0.0])
        hits = collection.query.near_vector([1.0, 0.0, 0.0], limit=1)  # over gRPC
        assert hits.objects[0].properties["text"] == "hello"


@pytest.mark.integration
def test_a_second_server_on_the_same_data_dir_is_refused(
    server: LocalWeaviate, tmp_path: Path
) -> None:
    second = LocalWeaviate(
        LocalWeaviateConfig(
            data_dir=server.log_file.parent, cache_dir=CACHE, http_port=0, grpc_port=0
        )
    )
    with pytest.raises(LocalWeaviateError, match="in use by another running Weaviate"):
        second.start()


@pytest.mark.integration
def test_data_survives_a_restart_and_stop_leaves_no_process(tmp_path: Path) -> None:
    config = LocalWeaviateConfig(data_dir=tmp_path, cache_dir=CACHE, http_port=0, grpc_port=0)
    with LocalWeaviate(config) as first:
        with _client(first) as client:
            client.collections.create(
                "Kept",
                vector_config=Configure.Vectors.self_provided(),
                properties=[Property(name="text", data_type=DataType.TEXT)],
            ).data.insert({"text": "still here"}, vector=[0.0, 1.0])
        assert first._process is not None
        pid = first._process.pid
    assert process_gone(pid)
    assert not first.is_running()

    with LocalWeaviate(config) as again, _client(again) as client:
        kept = client.collections.get("Kept").query.fetch_objects(limit=5)
        assert [o.properties["text"] for o in kept.objects] == ["still here"]
