"""Settings every service shares. Each service subclasses ``ServiceSettings`` with its own
``env_prefix`` (``CLASSIFIER_``, ``RETRIEVER_``, ...); settings modules are the only code that
reads the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from supportbus_runtime.kafka_security import KafkaSecuritySettings

MINILM_DIR_NAME = "all-MiniLM-L6-v2-onnx"
MINILM_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def repo_root() -> Path:
    """The checkout this package runs from (editable installs), used for default data paths."""
    return Path(__file__).resolve().parents[3]


def find_shared_dir() -> Path:
    """``../shared`` beside the checkout (or the working directory): offline model and data."""
    for candidate in (repo_root().parent / "shared", Path.cwd().parent / "shared"):
        if candidate.is_dir():
            return candidate
    return repo_root().parent / "shared"


class ServiceSettings(KafkaSecuritySettings):
    """What every service reads; the Kafka security settings are in ``KafkaSecuritySettings``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    create_topics: bool = Field(
        default=True, description="Create the service's topics at start (explicitly, never auto)."
    )
    group_id: str = ""
    # Static membership (KIP-345): a stable name per replica (a StatefulSet pod's name, or the
    # process manager's slot). A replica restarted under the same name gets its partitions back
    # at once instead of waiting out the dead member's session and a rebalance. Empty: dynamic
    # membership. Two running replicas must never share a name (the broker fences one).
    group_instance_id: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$", max_length=200)
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Prepended to every topic name, so several environments can share a cluster.",
    )
    # Delivery (supportbus_runtime.delivery). Retries have one owner: the delivery policy retries
    # a record whose handler raised a TransientError, with exponential backoff and jitter from
    # retry_initial_backoff_s up to retry_max_backoff_s, until retry_attempts attempts or
    # retry_budget_s seconds since the first attempt, whichever comes first; then the record is
    # dead-lettered with a reason that says the budget ran out. Adapters do not retry themselves
    # (the LLM client is the one exception: it owns its calls and falls back to the local model).
    retry_attempts: int = Field(default=100, ge=1, le=10_000)
    retry_initial_backoff_s: float = Field(default=0.2, gt=0)
    retry_max_backoff_s: float = Field(default=5.0, gt=0)
    retry_budget_s: float = Field(default=300.0, gt=0)
    # Records in flight per process: different keys run concurrently, one key at a time in
    # offset order. When max_in_flight records are in flight, or one partition holds
    # max_in_flight_per_partition, fetching from that partition pauses until it drains.
    max_in_flight: int = Field(default=64, ge=1, le=10_000)
    max_in_flight_per_partition: int = Field(default=64, ge=1, le=10_000)
    # Records are fetched a batch at a time (at most the free in-flight slots); an empty fetch
    # waits up to this long for records, then as long again before the next one (FastStream's
    # batch loop), so it bounds the idle consumer's added latency at twice this.
    fetch_wait_ms: int = Field(default=10, ge=1, le=1000)
    # Offsets are committed per partition up to the first unfinished record, every
    # commit_interval_ms or after commit_every completions, at shutdown and on revocation.
    commit_interval_ms: int = Field(default=1000, ge=10)
    commit_every: int = Field(default=500, ge=1)
    # How long a revoked partition's in-flight records may finish before they are cancelled
    # (keep it well below the consumer group's rebalance timeout), and the same at shutdown.
    revoke_timeout_s: float = Field(default=10.0, gt=0)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    # Producer batching: acks=all and idempotence stay on; acknowledgements are awaited
    # concurrently by the records in flight.
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)
    max_message_bytes: int = Field(
        default=1_048_576, description="Larger records are dead-lettered unread."
    )
    log_level: str = "INFO"
    # FastStream's "Received"/"Processed" line per record. Off by default: at hundreds of
    # records/s it is two log lines per record (about a sixth of a no-op hop's CPU), and with
    # key-ordered dispatch its "Processed" means queued, not done. Failures, retries and dead
    # letters are logged by the delivery policy either way.
    access_log: bool = False
    log_format: Literal["json", "text"] = "json"
    shared_dir: Path = Field(default_factory=find_shared_dir)

    # Operations: /healthz, /readyz and /metrics are served on http_host:http_port (0 = off).
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    # Traces: "file" writes JSON lines under telemetry_dir (read by `supportbus trace`);
    # "otlp-grpc"/"otlp-http" export to otlp_endpoint (an OpenTelemetry collector).
    telemetry_exporter: Literal["none", "file", "otlp-grpc", "otlp-http"] = "none"
    telemetry_dir: Path = Field(default_factory=lambda: repo_root() / "var" / "traces")
    otlp_endpoint: str = ""

    def effective_group_id(self, service: str) -> str:
        return self.group_id or f"{self.topic_prefix}supportbus-{service}"

    def topic(self, name: str) -> str:
        return self.topic_prefix + name


class EmbeddingSettingsMixin(BaseSettings):
    """For services that embed text with the shared MiniLM model."""

    embedding_model_path: Path | None = Field(
        default=None, description="Folder of the ONNX model; default: <shared_dir>/models/..."
    )
    # onnxruntime's threads for one model call. One by default: the process shares its cores
    # (the other services, the broker, or a pod's CPU quota, which onnxruntime does not see:
    # it sizes its pool by the node's cores), and there a second thread mostly spins. Two
    # processes embedding side by side on 2 cores: 7.2 ms CPU and 7.2 ms wall per text with
    # one thread each, 12-13 ms CPU and 12-26 ms wall with two. Scale with replicas; None
    # (onnxruntime's default, every core) only pays on a box that runs nothing else.
    embedding_threads: int | None = Field(default=1, ge=1)
    # Micro-batching (supportbus_runtime.batching): concurrent records' texts are embedded in
    # one model call, on a worker thread, so inference never blocks the event loop.
    batch_max: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Most texts embedded in one model call; requests arriving while a batch "
        "computes wait for the next one.",
    )
    batch_wait_ms: float = Field(
        default=2.0,
        ge=0.0,
        le=1000.0,
        description="How long the first text of a batch may wait for others (0: batch only what "
        "queued up while the previous batch computed); a full batch starts at once.",
    )

    def resolved_model_path(self, shared_dir: Path) -> Path | None:
        """The local model folder if there is one; None lets fastembed download it."""
        path = self.embedding_model_path or shared_dir / "models" / MINILM_DIR_NAME
        return path if (path / "model.onnx").is_file() else None
