"""Operator tools for dead letters: list them, and redrive them to the topic they came from."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata

from supportbus_contracts.topics import DEAD_LETTER_SUFFIX, PIPELINE_TOPICS, dead_letter_topic
from supportbus_devtools.topicreader import (
    FETCH_BYTES,
    read_topics,
    start_or_stop,
    topic_partitions,
)
from supportbus_runtime.broker import build_broker
from supportbus_runtime.deadletters import DeadLetter, original_headers
from supportbus_runtime.kafka_security import kafka_client_options
from supportbus_runtime.settings import ServiceSettings


def dlq_topics(settings: ServiceSettings, topics: Sequence[str] | None = None) -> list[str]:
    names = topics or [dead_letter_topic(t) for t in PIPELINE_TOPICS[:-1]]
    return [
        settings.topic(n if n.endswith(DEAD_LETTER_SUFFIX) else dead_letter_topic(n)) for n in names
    ]


def _redrive_group(settings: ServiceSettings) -> str:
    return f"{settings.topic_prefix}supportbus-dlq-redrive"


async def list_dead_letters(
    settings: ServiceSettings, topics: Sequence[str] | None = None
) -> list[DeadLetter]:
    letters = []
    async for record in read_topics(
        settings.kafka_bootstrap_servers,
        dlq_topics(settings, topics),
        idle_timeout_s=1.5,
        client_options=kafka_client_options(settings),
    ):
        letters.append(DeadLetter.from_record(record))
    return letters


async def redrive(
    settings: ServiceSettings, topics: Sequence[str] | None = None, *, limit: int | None = None
) -> int:
    """Republish dead letters (original bytes and headers) to their original topic, once each:
    progress is kept as the offsets of a consumer group, committed after each acknowledged send.
    Stops at the end of what the topics held when it started, so records that fail again and
    return to the dead-letter topic are not looped over."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **kafka_client_options(settings),
        group_id=_redrive_group(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    broker = build_broker(settings, client_id="supportbus-dlq-redrive")
    await start_or_stop(consumer)
    try:
        await broker.connect()
    except BaseException:
        await consumer.stop()
        raise
    sent = 0
    try:
        partitions = await topic_partitions(
            settings.kafka_bootstrap_servers,
            dlq_topics(settings, topics),
            kafka_client_options(settings),
        )
        if not partitions:
            return 0
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            consumer.seek(tp, committed if committed is not None else 0)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while pending and (limit is None or sent < limit):
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp] or (limit is not None and sent >= limit):
                        pending.discard(tp)
                        break
                    letter = DeadLetter.from_record(record)
                    await broker.publish(
                        letter.value,
                        topic=letter.original_topic,
                        key=letter.key,
                        headers=original_headers(letter.headers),
                    )
                    await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
                    sent += 1
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await broker.stop()
        await consumer.stop()
    return sent
