"""The helpdesk and the four services as separate OS processes: used by `supportbus demo` and by
the end-to-end tests, so both exercise exactly what an operator deploys."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from supportbus_devtools._kafka_probe import find_free_port
from supportbus_devtools.errors import NotReadyError, StackError
from supportbus_devtools.helpdesk_keys import HelpdeskKeys
from supportbus_devtools.processes import ChildProcess, read_lines, wait_until_http_ok
from supportbus_devtools.workspace import standalone_agents
from supportbus_runtime.settings import repo_root

__all__ = ["SERVICES", "ManagedProcess", "Stack", "StackConfig", "StackError"]

SERVICES = ("classifier", "retriever", "ticketer", "responder")


@dataclass(frozen=True)
class StackConfig:
    work_dir: Path
    bootstrap_servers: str
    helpdesk_port: int
    topic_prefix: str = ""
    partitions: int = 6
    # Extra environment for every process (paths of the model, index, ...).
    env: dict[str, str] = field(default_factory=dict)
    # Where the processes write their spans (the "file" exporter); None: no tracing.
    traces_dir: Path | None = None
    # Where the ticketer reaches the helpdesk, when not directly (e.g. through a fault proxy).
    ticketer_helpdesk_url: str | None = None
    # Agents (agents/<name>, package supportbus_<name>) started beside the four services, each
    # in its own consumer group on the topics it subscribes to.
    agents: tuple[str, ...] = ()

    @property
    def consumers(self) -> tuple[str, ...]:
        return (*SERVICES, *self.agents)

    @property
    def helpdesk_url(self) -> str:
        return f"http://127.0.0.1:{self.helpdesk_port}"

    @property
    def helpdesk_keys(self) -> HelpdeskKeys:
        return HelpdeskKeys(self.work_dir / "secrets")

    def helpdesk_client(self, timeout: float = 10) -> httpx.Client:
        """A client of the helpdesk with the operator's key (read tickets, drive faults)."""
        return httpx.Client(
            base_url=self.helpdesk_url,
            headers=self.helpdesk_keys.operator_headers(),
            timeout=timeout,
        )


def _telemetry_env(config: StackConfig, prefix: str) -> dict[str, str]:
    if config.traces_dir is None:
        return {f"{prefix}TELEMETRY_EXPORTER": "none"}
    return {f"{prefix}TELEMETRY_EXPORTER": "file", f"{prefix}TELEMETRY_DIR": str(config.traces_dir)}


def env_prefix(service: str) -> str:
    """``kb-gaps`` -> ``KB_GAPS_``: the prefix of a service's or agent's settings."""
    return f"{service.upper().replace('-', '_')}_"


def service_python(service: str, root: Path | None = None) -> str:
    """The interpreter that runs ``service``: the workspace's, or a standalone agent's own
    (``supportbus_devtools.workspace``), from its own ``.venv``."""
    root = root or repo_root()
    if service not in standalone_agents(root):
        return sys.executable
    python = root / "agents" / service / ".venv" / "bin" / "python"
    if not python.is_file():
        raise StackError(
            f"{service} is a standalone agent with an environment of its own, not installed: "
            f"run `uv sync --frozen --directory agents/{service}`"
        )
    return str(python)


def _service_env(config: StackConfig, service: str, http_port: int) -> dict[str, str]:
    prefix = env_prefix(service)
    return {
        f"{prefix}KAFKA_BOOTSTRAP_SERVERS": config.bootstrap_servers,
        f"{prefix}TOPIC_PREFIX": config.topic_prefix,
        f"{prefix}TOPIC_PARTITIONS": str(config.partitions),
        f"{prefix}HTTP_HOST": "127.0.0.1",
        f"{prefix}HTTP_PORT": str(http_port),
        **_telemetry_env(config, prefix),
    }


class ManagedProcess(ChildProcess):
    """One process of the stack, restartable under its name; its log is appended to across
    restarts, so a crash and what came after it read as one story."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self._argv = argv
        self._env = env
        self.log_path = log_path
        # Exits we caused (SIGKILL, stop): any other exit is a process that died on its own.
        self.killed = 0
        self.starts = 0
        self._expected_exit = False

    def start(self) -> None:
        """Start it without waiting for it to serve (the stack checks that)."""
        self._expected_exit = False
        self.starts += 1
        self._spawn(self._argv, self.log_path, env=self._env, append=True)

    @property
    def alive(self) -> bool:
        return self.is_running()

    def kill_hard(self) -> int | None:
        """SIGKILL: no shutdown hooks, no final commit (what a crash looks like)."""
        if not self.is_running():
            return self.returncode
        self._expected_exit = True
        self.killed += 1
        return super().kill_hard()

    @property
    def died(self) -> bool:
        """Exited without being killed or stopped by us (a crash of its own)."""
        return self.returncode is not None and not self._expected_exit

    def stop(self, timeout: float = 20.0) -> None:
        self._expected_exit = True
        super().stop(timeout)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(read_lines(self.log_path)[-lines:])


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, ManagedProcess] = {}
        # Free ports, so several stacks (and a developer's own services) can run side by side.
        self.http_ports = {service: find_free_port() for service in config.consumers}
        base = {**os.environ, **config.env, "PYTHONUNBUFFERED": "1"}
        logs = config.work_dir / "logs"
        self.processes["helpdesk"] = ManagedProcess(
            "helpdesk",
            [sys.executable, "-m", "supportbus_helpdesk.main"],
            {
                **base,
                "HELPDESK_PORT": str(config.helpdesk_port),
                "HELPDESK_HOST": "127.0.0.1",
                "HELPDESK_DB_PATH": str(config.work_dir / "helpdesk.sqlite3"),
                "HELPDESK_PUBLIC_BASE_URL": config.helpdesk_url,
                "HELPDESK_API_KEYS_FILE": str(config.helpdesk_keys.keys_file),
                **_telemetry_env(config, "HELPDESK_"),
            },
            logs / "helpdesk.log",
        )
        self._base_env = base
        for service in config.consumers:
            self.processes[service] = self._service_process(service, service)

    def _service_process(self, service: str, name: str) -> ManagedProcess:
        env = {**self._base_env, **_service_env(self.config, service, self.http_ports[name])}
        # Static membership: a process restarted under its name gets its partitions back at
        # once, instead of the group waiting out the dead member's session.
        env[f"{env_prefix(service)}GROUP_INSTANCE_ID"] = name
        if service == "ticketer":
            env["TICKETER_HELPDESK_URL"] = (
                self.config.ticketer_helpdesk_url or self.config.helpdesk_url
            )
            env["TICKETER_HELPDESK_API_KEY_FILE"] = str(self.config.helpdesk_keys.ticketer_key_file)
        return ManagedProcess(
            name,
            [service_python(service), "-m", f"supportbus_{service.replace('-', '_')}.main"],
            env,
            self.config.work_dir / "logs" / f"{name}.log",
        )

    def add_replica(self, service: str) -> str:
        """Start one more process of ``service`` in the same consumer group (scaling out)."""
        name = f"{service}-{sum(1 for n in self.processes if n.startswith(service)) + 1}"
        self.http_ports[name] = find_free_port()
        self.processes[name] = self._service_process(service, name)
        self.processes[name].start()
        return name

    def start(self, timeout: float = 60.0) -> None:
        self.config.helpdesk_keys.ensure()
        self.processes["helpdesk"].start()
        self.wait_helpdesk(timeout)
        for service in self.config.consumers:
            self.processes[service].start()
        time.sleep(0.5)
        self.check_alive()

    def wait_helpdesk(self, timeout: float) -> None:
        """Until the helpdesk answers /healthz; StackError (with its log) if it exits first."""
        try:
            wait_until_http_ok(
                f"{self.config.helpdesk_url}/healthz",
                timeout,
                check=lambda: self.check_alive(["helpdesk"]),
                interval=0.2,
            )
        except NotReadyError as exc:
            raise StackError(f"helpdesk did not answer within {timeout:.0f} s") from exc

    def check_alive(self, names: list[str] | None = None) -> None:
        for name in names or list(self.processes):
            process = self.processes[name]
            if process.returncode is not None:
                raise StackError(
                    f"{name} exited with code {process.returncode}:\n{process.log_tail()}"
                )

    def restart(self, name: str) -> None:
        self.processes[name].start()

    def stop(self) -> None:
        # Consumers first (so nothing is mid-call when the helpdesk goes), helpdesk last.
        for name in reversed(self.processes):
            if name != "helpdesk":
                self.processes[name].stop()
        self.processes["helpdesk"].stop()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def pids(self) -> dict[str, int]:
        """Process name -> pid of every process of the stack that is running now."""
        return {
            name: pid
            for name, process in self.processes.items()
            if (pid := process.pid) is not None
        }

    def operations_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http_ports[service]}"

    def metric_sum(self, process: str, series: str) -> float:
        """A series summed over its labels, scraped from one process's /metrics (0 while it
        does not answer)."""
        try:
            text = httpx.get(f"{self.operations_url(process)}/metrics", timeout=5).text
        except httpx.HTTPError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(series + "{")
        )

    def wait_until_assigned(self, names: list[str] | None = None, timeout_s: float = 120) -> None:
        """Until each service process reports partitions (supportbus_assigned_partitions), so
        the first records do not wait for a group still forming."""
        deadline = time.monotonic() + timeout_s
        waiting = list(names or [n for n in self.processes if n != "helpdesk"])
        while waiting:
            if time.monotonic() > deadline:
                raise StackError(f"no partitions assigned to {waiting} within {timeout_s:.0f} s")
            self.check_alive()
            waiting = [
                name
                for name in waiting
                if self.metric_sum(name, "supportbus_assigned_partitions") <= 0
            ]
            time.sleep(0.2)

    def ticket_count(self) -> int:
        with self.config.helpdesk_client(timeout=5) as helpdesk:
            response = helpdesk.get("/v1/tickets", params={"limit": 1})
        response.raise_for_status()
        return int(response.json()["total"])
