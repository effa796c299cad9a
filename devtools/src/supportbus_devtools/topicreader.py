"""Reading a topic from the beginning without joining a consumer group: what operator tools
(dead-letter listing, the demo, tests) need to see everything a topic holds."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

FETCH_BYTES = 16 * 1024 * 1024


async def start_or_stop(consumer: AIOKafkaConsumer) -> None:
    """Start ``consumer``; if that fails (broker unreachable), stop it before re-raising, so a
    failed start leaves no "Unclosed AIOKafkaConsumer" behind to warn at exit."""
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise


async def read_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    idle_timeout_s: float = 2.0,
    deadline_s: float | None = None,
    done: Callable[[], bool] | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Yield every record of ``topics`` from the start. Stops when nothing new arrived for
    ``idle_timeout_s``, when ``done()`` is true, or at ``deadline_s`` (seconds from now).
    ``client_options``: a secured cluster's (``kafka_security.kafka_client_options``)."""
    options = dict(client_options or {})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        **options,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES * 2,
    )
    await start_or_stop(consumer)
    try:
        partitions = await topic_partitions(bootstrap_servers, topics, options)
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        stop_at = None if deadline_s is None else time.monotonic() + deadline_s
        last_seen = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    yield record
            now = time.monotonic()
            if batch:
                last_seen = now
            if done is not None and done():
                return
            if stop_at is not None and now >= stop_at:
                return
            if done is None and now - last_seen >= idle_timeout_s:
                return
    finally:
        await consumer.stop()


async def topic_partitions(
    bootstrap_servers: str,
    topics: Sequence[str],
    client_options: Mapping[str, Any] | None = None,
) -> list[TopicPartition]:
    """The partitions of the existing ``topics`` (a consumer without a group only knows the
    metadata of topics it has already assigned, so ask the cluster)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(client_options or {}))
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(item["topic"], p["partition"])
        for item in described
        if not item.get("error_code")
        for p in sorted(item.get("partitions", []), key=lambda p: p["partition"])
    ]


RecordSink = Callable[[ConsumerRecord[bytes, bytes], float], None]


class TopicTail:
    """Follows topics from their start, without a consumer group, in a background task, and
    hands each record to ``sink`` with the time (``clock()``) its batch arrived: what a tool
    watching a running system's outputs needs (the benchmark, the chaos suite)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        sink: RecordSink,
        *,
        clock: Callable[[], float] = time.time,
        fetch_max_wait_ms: int = 50,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = list(topics)
        self._sink = sink
        self._clock = clock
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await start_or_stop(consumer)
        partitions = await topic_partitions(self._bootstrap, self._topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._consumer = consumer
        self._task = asyncio.create_task(self._loop(consumer))

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            # While the broker is away aiokafka reconnects inside getmany.
            batch = await consumer.getmany(timeout_ms=100)
            seen = self._clock()
            for records in batch.values():
                for record in records:
                    self._sink(record, seen)

    def check(self) -> None:
        """Raise here what stopped the background task, if anything did."""
        if self._task is not None and self._task.done():
            self._task.result()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
