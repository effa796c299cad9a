"""A real single-node Kafka broker (KRaft, 127.0.0.1) run as a local JVM process.

The demo and the integration tests need a real broker, and this machine class has no Docker, so
the broker runs straight from the Kafka jars on Maven Central: ``mvn`` fetches them once into a
cache, storage is formatted once per data dir, and ``kafka.Kafka`` runs in its own session so
Ctrl-C reaches us, not the broker, and we decide how it stops.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from supportbus_devtools.errors import LocalKafkaError
from supportbus_devtools.localserver import LocalServer, default_cache_dir
from supportbus_devtools.processes import exclusive_lock, say
from supportbus_devtools.securekafka import ADMIN, BrokerSecurity, Grant
from supportbus_runtime.kafka_security import kafka_client_options

from ._kafka_config import (
    HOST,
    JVM_FLAGS,
    cluster_id,
    log4j2_properties,
    server_properties,
)
from ._kafka_probe import accepts_connections, broker_ready, find_free_port

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "LocalKafka",
    "LocalKafkaConfig",
    "LocalKafkaError",
    "ensure_kafka_jars",
    "find_free_port",
]

DEFAULT_KAFKA_VERSION = "4.1.1"
_POM = resources.files(__package__ or __name__).joinpath("kafka_pom.xml")
_MARKER = ".jars-complete"  # written after a complete copy; its absence means fetch again
_say = functools.partial(say, "kafka")


@dataclass(frozen=True)
class LocalKafkaConfig:
    """Where the broker keeps its data and jars, and which ports it listens on (0 = pick free)."""

    data_dir: Path
    cache_dir: Path = field(default_factory=default_cache_dir)
    port: int = 9092
    controller_port: int = 0
    version: str = DEFAULT_KAFKA_VERSION
    # None: PLAINTEXT, anyone may do anything. Set: SASL_SSL with ACLs (supportbus_devtools.
    # securekafka); use a fresh data_dir, since users are created when storage is formatted.
    security: BrokerSecurity | None = None


def _java() -> str:
    """JAVA_HOME wins, as with Kafka's own scripts; otherwise whatever ``java`` is on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise LocalKafkaError(
            "Java 17+ is needed to run the local Kafka broker: set JAVA_HOME or put `java` on "
            "PATH (e.g. apt-get install openjdk-17-jre-headless)"
        )
    return found


def ensure_kafka_jars(cache_dir: Path, version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Return ``<cache_dir>/kafka-<version>/libs``, fetching the jars with mvn on first use.

    A marker file written after a complete copy makes later calls free; a file lock keeps two
    test processes from fetching into the same cache at once.
    """
    home = cache_dir.expanduser().resolve() / f"kafka-{version}"
    libs = home / "libs"
    if _complete(home, libs, version):
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(home / ".lock"):
        if _complete(home, libs, version):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError(
                "Maven (`mvn`) is needed once to fetch the Kafka jars from Maven "
                "Central (e.g. apt-get install maven)"
            )
        _say("fetching jars with mvn (first run only)...")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=home) as tmp:
            pom = Path(tmp) / "pom.xml"
            pom.write_bytes(_POM.read_bytes())
            fetched = Path(tmp) / "libs"
            cmd = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies"]
            cmd += ["-DincludeScope=runtime", f"-DoutputDirectory={fetched}"]
            cmd += [f"-Dkafka.version={version}"]
            result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
                raise LocalKafkaError(f"mvn could not fetch Kafka {version} jars:\n{output}")
            names = {p.name for p in fetched.glob("*.jar")}
            if not {f"kafka_2.13-{version}.jar", f"kafka-tools-{version}.jar"} <= names or not any(
                n.startswith("log4j-core-") for n in names
            ):
                raise LocalKafkaError(f"mvn finished but the Kafka jars are incomplete: {names}")
            shutil.rmtree(libs, ignore_errors=True)
            fetched.rename(libs)
        (home / _MARKER).write_text(f"{len(names)} jars\n")
        _say(f"{len(names)} jars ready in {time.monotonic() - started:.1f}s ({libs})")
        return libs


def _complete(home: Path, libs: Path, version: str) -> bool:
    # The tools jar (kafka-acls) came later: a cache from before it is fetched again.
    return (home / _MARKER).is_file() and (libs / f"kafka-tools-{version}.jar").is_file()


class LocalKafka(LocalServer):
    """One broker+controller process; ``with LocalKafka(cfg) as kafka:`` starts and stops it.
    ``start(timeout=90)`` bounds the broker start, not a first jar download."""

    label = "Kafka broker"
    tag = "kafka"
    error = LocalKafkaError
    start_timeout_s = 90.0
    poll_interval_s = 0.25
    lock_file = "kraft-logs/.lock"  # the broker's FileChannel lock on its log dir
    lock_kind = "lockf"

    def __init__(self, config: LocalKafkaConfig) -> None:
        super().__init__(config.data_dir)
        self.config = config
        self.port = config.port or find_free_port()
        self.controller_port = config.controller_port or find_free_port(exclude=(self.port,))
        self.security = config.security
        self.internal_port = (
            find_free_port(exclude=(self.port, self.controller_port)) if self.security else 0
        )
        self._jvm: list[str] = []

    @property
    def bootstrap_servers(self) -> str:
        """What a client passes as ``bootstrap_servers``; known before ``start()``."""
        return f"{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        """The broker's own log (log4j2), where to look when something is off."""
        return self._data_dir / "logs" / "server.log"

    def _describe(self) -> str:
        return f"broker on {self.bootstrap_servers}"

    @property
    def internal_bootstrap(self) -> str:
        """A secured broker's listener for its own tools (admin, PLAIN)."""
        return f"{HOST}:{self.internal_port}"

    def _ports(self) -> Mapping[str, int]:
        ports = {"broker": self.port, "controller": self.controller_port}
        return ports | ({"internal": self.internal_port} if self.security else {})

    def _prepare(self) -> list[str]:
        """Jars fetched, config written, storage formatted on first use of the data dir."""
        java = _java()
        libs = ensure_kafka_jars(self.config.cache_dir, self.config.version)
        logs, kraft = self._data_dir / "logs", self._data_dir / "kraft-logs"
        logs.mkdir(parents=True, exist_ok=True)
        props = self._data_dir / "server.properties"
        overrides: dict[str, str] = {}
        if self.security is not None:
            self.security.prepare()
            overrides = self.security.server_properties(
                self.port, self.internal_port, self.controller_port
            )
        props.write_text(server_properties(kraft, self.port, self.controller_port, overrides))
        props.chmod(0o600)  # a secured broker's holds the admin password
        log4j = self._data_dir / "log4j2.properties"
        log4j.write_text(log4j2_properties(logs))
        jvm = [
            java,
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            f"{libs}/*",
        ]
        self._jvm = jvm
        if not (kraft / "meta.properties").is_file():
            self._format(jvm, props)
        return [*jvm, "kafka.Kafka", str(props)]

    def _format(self, jvm: list[str], props: Path) -> None:
        users = self.security.format_arguments() if self.security else []
        command = [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(props)]
        result = subprocess.run(
            [*command, *users],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self._data_dir,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise LocalKafkaError(f"formatting Kafka storage in {self._data_dir} failed:\n{output}")

    def _ready(self) -> bool:
        options = {}
        if self.security is not None:
            options = kafka_client_options(self.security.client_settings(ADMIN))
        return accepts_connections(self.port) and broker_ready(self.bootstrap_servers, **options)

    def grant(self, grants: Iterable[Grant]) -> None:
        """Add the ACLs of ``grants`` with Kafka's own ``kafka-acls`` (a secured broker only)."""
        if self.security is None or not self._jvm:
            raise LocalKafkaError("ACLs need a started broker with security")
        commands = self.security.acl_commands(self.internal_bootstrap, grants)
        _say(f"granting {len(commands)} ACL sets with kafka-acls...")
        # Each is a JVM start (~2 s); two at a time on a 2-core machine.
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(self._acl_command, commands))
        failed = [r for r in results if r.returncode != 0]
        if failed:
            output = "\n".join((failed[0].stdout + failed[0].stderr).splitlines()[-20:])
            raise LocalKafkaError(f"kafka-acls failed:\n{output}")

    def _acl_command(self, arguments: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._jvm, "org.apache.kafka.tools.AclCommand", *arguments],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    def _error_lines(self, lines: list[str]) -> list[str]:
        """ERROR/FATAL lines with the exception line under each."""
        picked: list[str] = []
        for i, line in enumerate(lines):
            if "] ERROR " in line or "] FATAL " in line:
                picked += lines[i : i + 2]
        return picked
