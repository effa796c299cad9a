"""A real single-node Weaviate (127.0.0.1) built from source and run as a local process.

The retriever's Weaviate store and its integration tests need a real server, and this machine
class has no Docker, so the project builds ``weaviate-server`` itself: ``go install`` fetches the
pinned release from the Go module proxy once (several minutes on two cores) into a cache, and
the binary then runs in its own session so Ctrl-C reaches us, not the server, and we decide how
it stops. It runs single-node, anonymous, with no modules (vectors come from the client), no
telemetry and no API-based modules: it never reaches beyond 127.0.0.1 at run time.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from supportbus_devtools.errors import LocalWeaviateError
from supportbus_devtools.gobuild import ensure_go_binary
from supportbus_devtools.localserver import LocalServer, default_cache_dir
from supportbus_devtools.processes import http_ok, say

from ._kafka_config import HOST
from ._kafka_probe import accepts_connections, find_free_port

__all__ = [
    "DEFAULT_WEAVIATE_VERSION",
    "LocalWeaviate",
    "LocalWeaviateConfig",
    "LocalWeaviateError",
    "WeaviateEndpoint",
    "ensure_weaviate_binary",
    "find_free_port",
]

# The newest stable release the Go module proxy serves that builds with this project's Go
# (1.25+, CGO off; no replace directives, so a plain `go install pkg@version` works).
DEFAULT_WEAVIATE_VERSION = "1.35.2"
_MODULE = "github.com/weaviate/weaviate"
_BINARY = "weaviate-server"
_say = functools.partial(say, "weaviate")


@dataclass(frozen=True)
class LocalWeaviateConfig:
    """Where the server keeps its data and binary, and which ports it listens on (0 = pick free).

    Only the HTTP and gRPC ports are for clients; the other four are Weaviate's own cluster
    plumbing (gossip, data, Raft, Raft RPC), which a single node still opens.
    """

    data_dir: Path
    cache_dir: Path = field(default_factory=default_cache_dir)
    http_port: int = 8080
    grpc_port: int = 50051
    gossip_port: int = 0
    data_port: int = 0
    raft_port: int = 0
    raft_rpc_port: int = 0
    version: str = DEFAULT_WEAVIATE_VERSION


@dataclass(frozen=True)
class WeaviateEndpoint:
    """What a client needs to connect: the REST URL and the gRPC port (same host)."""

    url: str
    grpc_port: int


def ensure_weaviate_binary(cache_dir: Path, version: str = DEFAULT_WEAVIATE_VERSION) -> Path:
    """Return ``<cache_dir>/weaviate-<version>/bin/weaviate-server``, building it on first use
    (several minutes on two cores)."""
    return ensure_go_binary(
        cache_dir.expanduser().resolve() / f"weaviate-{version}",
        f"{_MODULE}/cmd/{_BINARY}@v{version}",
        what=f"Weaviate v{version}",
        name=_BINARY,
        built_as=_BINARY,
        error=LocalWeaviateError,
        needs_go=(
            "Go 1.25+ is needed once to build the local Weaviate server: put `go` on PATH "
            "(e.g. from https://go.dev/dl or apt-get install golang)"
        ),
        say=_say,
    )


def _readable(line: str) -> str:
    """Weaviate logs JSON lines; show level, message and error, not the build boilerplate."""
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    text = f"{record.get('level', '?')}: {record.get('msg', '')}"
    if record.get("error"):
        text += f" ({record['error']})"
    return text


class LocalWeaviate(LocalServer):
    """One single-node server; ``with LocalWeaviate(cfg) as weaviate:`` starts and stops it.
    ``start(timeout=60)`` bounds the server start, not a first build."""

    label = "Weaviate"
    tag = "weaviate"
    error = LocalWeaviateError
    start_timeout_s = 60.0
    lock_file = "data/raft/raft.db"  # bbolt holds an exclusive flock on its Raft database
    lock_kind = "flock"

    def __init__(self, config: LocalWeaviateConfig) -> None:
        super().__init__(config.data_dir)
        self.config = config
        taken: list[int] = []

        def pick(port: int) -> int:
            chosen = port or find_free_port(exclude=(*taken, config.http_port, config.grpc_port))
            taken.append(chosen)
            return chosen

        self.http_port = pick(config.http_port)
        self.grpc_port = pick(config.grpc_port)
        self.gossip_port = pick(config.gossip_port)
        self.data_port = pick(config.data_port)
        self.raft_port = pick(config.raft_port)
        self.raft_rpc_port = pick(config.raft_rpc_port)

    @property
    def url(self) -> str:
        """The REST endpoint a client connects to (with ``grpc_port``); known before start()."""
        return f"http://{HOST}:{self.http_port}"

    @property
    def endpoint(self) -> WeaviateEndpoint:
        return WeaviateEndpoint(self.url, self.grpc_port)

    def _describe(self) -> str:
        return f"v{self.config.version} on {self.url} (gRPC {self.grpc_port})"

    def _ports(self) -> Mapping[str, int]:
        return {
            "HTTP": self.http_port,
            "gRPC": self.grpc_port,
            "gossip": self.gossip_port,
            "data": self.data_port,
            "Raft": self.raft_port,
            "Raft RPC": self.raft_rpc_port,
        }

    def _environment(self) -> dict[str, str]:
        """A clean environment: only what we set (plus PATH/HOME), so a stray WEAVIATE-style
        variable in the caller's shell cannot turn on auth, modules or clustering."""
        env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR", "TZ") if k in os.environ}
        env.update(
            AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED="true",
            DEFAULT_VECTORIZER_MODULE="none",
            ENABLE_MODULES="",
            API_BASED_MODULES_DISABLED="true",
            PERSISTENCE_DATA_PATH=str(self._data_dir / "data"),
            GRPC_PORT=str(self.grpc_port),
            CLUSTER_HOSTNAME="node1",
            # Not CLUSTER_IN_LOCALHOST: that mode expects the Raft RPC port to be the Raft port
            # + 1 and ignores RAFT_INTERNAL_RPC_PORT, so the node cannot reach itself to join.
            # Without these Weaviate advertises the first interface address (maybe IPv6) to
            # itself and the Raft RPC listener fails to start.
            CLUSTER_BIND_ADDR=HOST,
            CLUSTER_ADVERTISE_ADDR=HOST,
            CLUSTER_GOSSIP_BIND_PORT=str(self.gossip_port),
            CLUSTER_DATA_BIND_PORT=str(self.data_port),
            RAFT_PORT=str(self.raft_port),
            RAFT_INTERNAL_RPC_PORT=str(self.raft_rpc_port),
            RAFT_JOIN="node1",
            RAFT_BOOTSTRAP_EXPECT="1",
            # One node has no network delay to tolerate: elect itself in ~1 s, not ~8 s.
            RAFT_TIMEOUTS_MULTIPLIER="1",
            GO_PROFILING_DISABLE="true",  # else a pprof server on :6060
            DISABLE_TELEMETRY="true",
            QUERY_DEFAULTS_LIMIT="25",
            LOG_LEVEL="warning",
            LOG_FORMAT="json",
        )
        return env

    def _prepare(self) -> list[str]:
        binary = ensure_weaviate_binary(self.config.cache_dir, self.config.version)
        (self._data_dir / "data").mkdir(parents=True, exist_ok=True)
        return [str(binary), "--host", HOST, "--port", str(self.http_port), "--scheme", "http"]

    def _ready(self) -> bool:
        return http_ok(f"{self.url}/v1/.well-known/ready", timeout=2.0) and accepts_connections(
            self.grpc_port
        )

    def _error_lines(self, lines: list[str]) -> list[str]:
        return [
            _readable(line)
            for line in lines
            if '"level":"error"' in line or '"level":"fatal"' in line
        ]

    def _readable(self, line: str) -> str:
        return _readable(line)
