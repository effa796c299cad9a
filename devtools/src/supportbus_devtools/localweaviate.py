"""A real single-node Weaviate (127.0.0.1) built from source and run as a local process.

The retriever's Weaviate store and its integration tests need a real server, and this machine
class has no Docker, so the project builds ``weaviate-server`` itself: ``go install`` fetches the
pinned release from the Go module proxy once (several minutes on two cores) into a cache, and
the binary then runs in its own session so Ctrl-C reaches us, not the server, and we decide how
it stops. It runs single-node, anonymous, with no modules (vectors come from the client), no
telemetry and no API-based modules: it never reaches beyond 127.0.0.1 at run time.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from supportbus_devtools.processes import LocalServer, exclusive_lock, read_lines

from ._kafka_config import HOST
from ._kafka_probe import accepts_connections, find_free_port, port_taken

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
_DEFAULT_GOPROXY = "https://proxy.golang.org"


class LocalWeaviateError(Exception):
    """The local Weaviate could not be built, started or reached."""


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "supportbus"


@dataclass(frozen=True)
class LocalWeaviateConfig:
    """Where the server keeps its data and binary, and which ports it listens on (0 = pick free).

    Only the HTTP and gRPC ports are for clients; the other four are Weaviate's own cluster
    plumbing (gossip, data, Raft, Raft RPC), which a single node still opens.
    """

    data_dir: Path
    cache_dir: Path = field(default_factory=_default_cache_dir)
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


def _say(message: str) -> None:
    """Progress goes to stderr so a first run that compiles for minutes does not look hung."""
    print(f"weaviate: {message}", file=sys.stderr, flush=True)


def _go() -> str:
    found = shutil.which("go")
    if found is None:
        raise LocalWeaviateError(
            "Go 1.25+ is needed once to build the local Weaviate server: put `go` on PATH "
            "(e.g. from https://go.dev/dl or apt-get install golang)"
        )
    return found


def _module_proxy() -> str:
    """GOPROXY without ``direct``/``off``: modules come from a module proxy, never from VCS."""
    configured = os.environ.get("GOPROXY", "")
    proxies = [
        p for p in configured.replace("|", ",").split(",") if p.strip() not in ("", "direct", "off")
    ]
    return ",".join(proxies) or _DEFAULT_GOPROXY


def _go_env(gobin: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOBIN=str(gobin),
        GOPROXY=_module_proxy(),
        GOTOOLCHAIN="local",  # use the Go we have; never download a toolchain
        CGO_ENABLED="0",  # a static binary; no C compiler needed
        GOFLAGS=" ".join([*env.get("GOFLAGS", "").split(), "-trimpath"]).strip(),
    )
    env.pop("GONOPROXY", None)
    env.pop("GOPRIVATE", None)
    return env


def ensure_weaviate_binary(cache_dir: Path, version: str = DEFAULT_WEAVIATE_VERSION) -> Path:
    """Return ``<cache_dir>/weaviate-<version>/bin/weaviate-server``, building it on first use.

    ``go install`` writes into a scratch GOBIN and the binary is renamed into place only once
    complete, so its presence means a finished build; a file lock keeps two test processes from
    building into the same cache at once.
    """
    home = cache_dir.expanduser().resolve() / f"weaviate-{version}"
    binary = home / "bin" / _BINARY
    if binary.is_file():
        return binary
    home.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(home / ".lock"):
        if binary.is_file():
            return binary
        go = _go()
        _say(f"building {_BINARY} v{version} with go install (first run only, several minutes)...")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=home) as scratch:
            gobin = Path(scratch) / "bin"
            result = subprocess.run(
                [go, "install", f"{_MODULE}/cmd/{_BINARY}@v{version}"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                cwd=scratch,  # outside any module, so go.work/go.mod around us cannot interfere
                env=_go_env(gobin),
            )
            built = gobin / _BINARY
            if result.returncode != 0 or not built.is_file():
                output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
                raise LocalWeaviateError(
                    f"go install could not build Weaviate v{version} "
                    f"(exit {result.returncode}):\n{output}"
                )
            binary.parent.mkdir(parents=True, exist_ok=True)
            built.rename(binary)
        _say(f"built {_BINARY} v{version} in {time.monotonic() - started:.1f}s ({binary})")
        return binary


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


def _errors(lines: list[str]) -> str:
    """Error and fatal lines: the cause is rarely the last line before the exit."""
    picked = [_readable(line) for line in lines if '"level":"error"' in line]
    picked += [_readable(line) for line in lines if '"level":"fatal"' in line]
    return "\n".join(picked[-10:]) or "(none)"


class LocalWeaviate(LocalServer):
    """One single-node server; ``with LocalWeaviate(cfg) as weaviate:`` starts and stops it."""

    def __init__(self, config: LocalWeaviateConfig) -> None:
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
        self._data_dir = config.data_dir.expanduser().resolve()

    @property
    def url(self) -> str:
        """The REST endpoint a client connects to (with ``grpc_port``); known before start()."""
        return f"http://{HOST}:{self.http_port}"

    @property
    def endpoint(self) -> WeaviateEndpoint:
        return WeaviateEndpoint(self.url, self.grpc_port)

    @property
    def log_file(self) -> Path:
        """The server's own output (JSON lines), where to look when something is off."""
        return self._data_dir / "weaviate.out"

    def _ports(self) -> dict[str, int]:
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

    def start(self, timeout: float = 60.0) -> None:
        """Build the binary if needed, start the server and block until it answers ready.
        ``timeout`` bounds the server start, not a first build."""
        if self.is_running():
            return
        self.stop()  # reap a server that died on its own
        for name, port in self._ports().items():  # fail fast, before any build
            if port_taken(port):
                raise LocalWeaviateError(
                    f"{name} port {HOST}:{port} is already in use (another Weaviate?); "
                    "pass 0 to pick a free one"
                )
        self._check_data_dir_free()
        binary = ensure_weaviate_binary(self.config.cache_dir, self.config.version)
        (self._data_dir / "data").mkdir(parents=True, exist_ok=True)
        _say(f"starting v{self.config.version} on {self.url} (gRPC {self.grpc_port})")
        started = time.monotonic()
        with open(self.log_file, "wb") as output:  # the child keeps its own fd
            process = subprocess.Popen(
                [str(binary), "--host", HOST, "--port", str(self.http_port), "--scheme", "http"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self._data_dir,
                env=self._environment(),
                start_new_session=True,
            )
        self._started(process)
        try:
            self._wait_ready(started + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        _say(f"ready in {time.monotonic() - started:.1f}s (data: {self._data_dir})")

    def _check_data_dir_free(self) -> None:
        """A running Weaviate holds an exclusive flock on its Raft database (bbolt): probe it
        before starting a second server that would block forever on the same files."""
        raft_db = self._data_dir / "data" / "raft" / "raft.db"
        if not raft_db.is_file():
            return
        with open(raft_db, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LocalWeaviateError(
                    f"{self._data_dir} is in use by another running Weaviate; "
                    "stop it or use another data dir"
                ) from None
            fcntl.flock(handle, fcntl.LOCK_UN)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/.well-known/ready", timeout=2) as reply:
                ready = reply.status == 200
        except (urllib.error.URLError, OSError):
            return False
        return ready and accepts_connections(self.grpc_port)

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                raise LocalWeaviateError(
                    f"Weaviate exited with code {code} before it was ready\n{self._log_tails()}"
                )
            if time.monotonic() > deadline:
                raise LocalWeaviateError(
                    f"Weaviate not ready after {timeout:g}s\n{self._log_tails()}"
                )
            if self._ready():
                return
            time.sleep(0.2)

    def _log_tails(self) -> str:
        lines = read_lines(self.log_file)
        return "\n".join(
            [
                f"--- errors in {self.log_file} ---",
                _errors(lines),
                f"--- tail of {self.log_file} ---",
                *(_readable(line) for line in lines[-15:]),
            ]
        )
