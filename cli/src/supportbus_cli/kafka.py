"""Which Kafka the operator commands talk to: an external one, or a local broker we start."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig


@contextlib.contextmanager
def local_kafka(data_dir: Path, cache_dir: Path, port: int = 0) -> Iterator[LocalKafka]:
    kafka = LocalKafka(LocalKafkaConfig(data_dir=data_dir, cache_dir=cache_dir, port=port))
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()
