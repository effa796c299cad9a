"""Prometheus metrics of the delivery policy, one registry per service app."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class DeliveryMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["service", "topic"]
        self.handled = Counter(
            "supportbus_messages_handled_total",
            "Records handled and published",
            labels,
            registry=self.registry,
        )
        self.failed = Counter(
            "supportbus_messages_failed_total",
            "Records whose handling failed (before any retry)",
            [*labels, "error_type"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "supportbus_dead_letters_total",
            "Records dead-lettered",
            [*labels, "error_type"],
            registry=self.registry,
        )
        self.retries = Counter(
            "supportbus_retries_total",
            "Retries of transient failures",
            labels,
            registry=self.registry,
        )
        self.publish_retries = Counter(
            "supportbus_publish_retries_total",
            "Attempts to publish an output or dead letter that failed and were retried",
            labels,
            registry=self.registry,
        )
        self.published = Counter(
            "supportbus_published_messages_total",
            "Outputs and dead letters the broker acknowledged",
            ["service", "topic"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "supportbus_records_in_flight",
            "Records fetched and not yet finished (handled or queued behind their key)",
            labels,
            registry=self.registry,
        )
        self.paused_partitions = Gauge(
            "supportbus_paused_partitions",
            "Partitions whose fetching is paused by backpressure",
            labels,
            registry=self.registry,
        )
        self.assigned_partitions = Gauge(
            "supportbus_assigned_partitions",
            "Partitions this process currently owns in its consumer group",
            labels,
            registry=self.registry,
        )
        self.commits = Counter(
            "supportbus_partition_commits_total",
            "Partition offsets committed (one per partition per commit)",
            labels,
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            "supportbus_handler_seconds",
            "Decode + handle + publish time per record",
            labels,
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.consumer_lag = Gauge(
            "supportbus_consumer_lag",
            "Records behind the partition's high watermark",
            [*labels, "partition"],
            registry=self.registry,
        )
