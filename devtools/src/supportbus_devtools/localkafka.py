"""A real single-node Kafka broker (KRaft, 127.0.0.1) run as a local JVM process.

The demo and the integration tests need a real broker, and this machine class has no Docker, so
the broker runs straight from the Kafka jars on Maven Central: ``mvn`` fetches them once into a
cache, storage is formatted once per data dir, and ``kafka.Kafka`` runs in its own session so
Ctrl-C reaches us, not the broker, and we decide how it stops.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from supportbus_devtools.processes import LocalServer, exclusive_lock, read_lines

from ._kafka_config import (
    HOST,
    JVM_FLAGS,
    cluster_id,
    log4j2_properties,
    server_properties,
)
from ._kafka_probe import accepts_connections, broker_ready, find_free_port, port_taken

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


class LocalKafkaError(Exception):
    """The local broker could not be fetched, formatted, started or reached."""


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "supportbus"


@dataclass(frozen=True)
class LocalKafkaConfig:
    """Where the broker keeps its data and jars, and which ports it listens on (0 = pick free)."""

    data_dir: Path
    cache_dir: Path = field(default_factory=_default_cache_dir)
    port: int = 9092
    controller_port: int = 0
    version: str = DEFAULT_KAFKA_VERSION


def _say(message: str) -> None:
    """Progress goes to stderr so a first run that downloads 40 MB does not look hung."""
    print(f"kafka: {message}", file=sys.stderr, flush=True)


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


def _errors(path: Path) -> str:
    """ERROR/FATAL lines with the exception line under each: the cause is rarely in the tail."""
    lines, picked = read_lines(path), []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            picked += lines[i : i + 2]
    return "\n".join(picked[-10:]) or "(none)"


def ensure_kafka_jars(cache_dir: Path, version: str = DEFAULT_KAFKA_VERSION) -> Path:
    """Return ``<cache_dir>/kafka-<version>/libs``, fetching the jars with mvn on first use.

    A marker file written after a complete copy makes later calls free; a file lock keeps two
    test processes from fetching into the same cache at once.
    """
    home = cache_dir.expanduser().resolve() / f"kafka-{version}"
    libs = home / "libs"
    if (home / _MARKER).is_file() and libs.is_dir():
        return libs
    home.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(home / ".lock"):
        if (home / _MARKER).is_file() and libs.is_dir():
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
            if f"kafka_2.13-{version}.jar" not in names or not any(
                n.startswith("log4j-core-") for n in names
            ):
                raise LocalKafkaError(f"mvn finished but the Kafka jars are incomplete: {names}")
            shutil.rmtree(libs, ignore_errors=True)
            fetched.rename(libs)
        (home / _MARKER).write_text(f"{len(names)} jars\n")
        _say(f"{len(names)} jars ready in {time.monotonic() - started:.1f}s ({libs})")
        return libs


class LocalKafka(LocalServer):
    """One broker+controller process; ``with LocalKafka(cfg) as kafka:`` starts and stops it."""

    def __init__(self, config: LocalKafkaConfig) -> None:
        self.config = config
        self.port = config.port or find_free_port()
        self.controller_port = config.controller_port or find_free_port(exclude=(self.port,))
        self._data_dir = config.data_dir.expanduser().resolve()

    @property
    def bootstrap_servers(self) -> str:
        """What a client passes as ``bootstrap_servers``; known before ``start()``."""
        return f"{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        """The broker's own log (log4j2), where to look when something is off."""
        return self._data_dir / "logs" / "server.log"

    def start(self, timeout: float = 90.0) -> None:
        """Fetch jars if needed, format storage on first use, start the broker and block until it
        serves metadata. ``timeout`` bounds the broker start, not a first jar download."""
        if self.is_running():
            return
        self.stop()  # reap a broker that died on its own
        for port in (self.port, self.controller_port):  # fail fast, before any download
            if port_taken(port):
                raise LocalKafkaError(
                    f"port {HOST}:{port} is already in use (another Kafka?); "
                    "pass port=0 to pick a free one"
                )
        self._check_data_dir_free()
        java = _java()
        libs = ensure_kafka_jars(self.config.cache_dir, self.config.version)
        logs, kraft = self._data_dir / "logs", self._data_dir / "kraft-logs"
        logs.mkdir(parents=True, exist_ok=True)
        props = self._data_dir / "server.properties"
        props.write_text(server_properties(kraft, self.port, self.controller_port))
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
        if not (kraft / "meta.properties").is_file():
            self._format(jvm, props)
        _say(f"starting broker on {self.bootstrap_servers} (data: {self._data_dir})")
        started = time.monotonic()
        with open(self._data_dir / "kafka.out", "wb") as output:  # the child keeps its own fd
            process = subprocess.Popen(
                [*jvm, "kafka.Kafka", str(props)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self._data_dir,
                start_new_session=True,
            )
        self._started(process)
        try:
            self._wait_ready(started + timeout, timeout)
        except BaseException:
            self.stop()
            raise
        _say(f"broker ready in {time.monotonic() - started:.1f}s (log: {self.log_file})")

    def _check_data_dir_free(self) -> None:
        """A running broker holds a POSIX lock on ``<log dir>/.lock``: probe it before we touch
        that broker's files (a second broker would rewrite its config and corrupt its log)."""
        lock_file = self._data_dir / "kraft-logs" / ".lock"
        if not lock_file.is_file():
            return
        with open(lock_file, "a") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LocalKafkaError(
                    f"{self._data_dir} is in use by another running Kafka "
                    "broker; stop it or use another data dir"
                ) from None
            fcntl.lockf(handle, fcntl.LOCK_UN)

    def _format(self, jvm: list[str], props: Path) -> None:
        result = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id(), "-c", str(props)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self._data_dir,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise LocalKafkaError(f"formatting Kafka storage in {self._data_dir} failed:\n{output}")

    def _wait_ready(self, deadline: float, timeout: float) -> None:
        assert self._process is not None
        while True:
            code = self._process.poll()
            if code is not None:
                raise LocalKafkaError(
                    f"Kafka broker exited with code {code} before it was ready\n{self._log_tails()}"
                )
            if time.monotonic() > deadline:
                raise LocalKafkaError(
                    f"Kafka broker not ready after {timeout:g}s\n{self._log_tails()}"
                )
            if accepts_connections(self.port) and broker_ready(self.bootstrap_servers):
                return
            time.sleep(0.25)

    def _log_tails(self) -> str:
        out = self._data_dir / "kafka.out"
        return "\n".join(
            [
                f"--- errors in {self.log_file} ---",
                _errors(self.log_file),
                f"--- tail of {self.log_file} ---",
                *read_lines(self.log_file)[-15:],
                f"--- tail of {out} ---",
                *read_lines(out)[-15:],
            ]
        )
