"""The files a local single-node Kafka broker is started from: its config, log config, cluster id.

Kept apart from ``localkafka`` (which runs the process) because this is pure text rendering.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from pathlib import Path

HOST = "127.0.0.1"
# Kafka's own defaults from kafka-run-class.sh, with a heap small enough for a laptop running tests.
JVM_FLAGS = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # the project sends 2 MB messages; leave headroom


def cluster_id() -> str:
    """Kafka's own Uuid format: 16 random bytes, base64url without padding, not starting '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def server_properties(
    log_dir: Path, port: int, controller_port: int, overrides: Mapping[str, str] | None = None
) -> str:
    """The broker's config; ``overrides`` replace or add keys (a secured broker's listeners)."""
    # A static voter set (controller.quorum.voters) rather than a dynamic quorum formatted with
    # --standalone: the dynamic one records the controller endpoint at format time, and a reused
    # data dir must survive a new free controller port on the next start.
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "6",
        "auto.create.topics.enable": "false",  # the project creates its topics explicitly
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # After a kill -9 the restarted broker must wait for its old session to expire before it
        # may register again: 9 s by default, needlessly long for a broker heartbeating itself.
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "3000",
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.response.max.bytes": str(2 * MAX_MESSAGE_BYTES),
    }
    props |= overrides or {}
    return "".join(f"{key}={value}\n" for key, value in props.items())


def log4j2_properties(logs: Path) -> str:
    """Broker logs go to a rolling file in the data dir, not to the terminal of the demo."""
    return "\n".join(
        [
            "status = warn",
            # Log4j's shutdown hook fires before Kafka's shutdown logging, which then warns on
            # stderr; the file appender flushes each line, so the hook has nothing to do.
            "shutdownHook = disable",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {logs}/server.log",
            "appender.file.append = false",  # one run per file: errors shown are this run's
            f"appender.file.filePattern = {logs}/server.log.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 20MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = file",
            "logger.statechange.name = state.change.logger",
            "logger.statechange.level = WARN",
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "",
        ]
    )
