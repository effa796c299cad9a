"""The local broker the demo and the integration tests run on: a real, usable Kafka, configured
the way the project expects (explicit topics only, 2 MB messages), that goes away when stopped."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from supportbus_devtools.localkafka import (
    LocalKafka,
    LocalKafkaConfig,
    LocalKafkaError,
    find_free_port,
)
from supportbus_devtools.testing import process_gone

TWO_MB = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(LocalKafkaConfig(data_dir=tmp_path_factory.mktemp("kafka"), port=0))
    broker.start()
    yield broker
    broker.stop()



def test_port_in_use_fails_before_anything_is_fetched(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = LocalKafka(LocalKafkaConfig(data_dir=tmp_path, cache_dir=tmp_path, port=port))
        with pytest.raises(LocalKafkaError, match="already in use"):
            broker.start()
    assert not broker.is_running()


def test_free_ports_are_distinct() -> None:
    first = find_free_port()
    assert find_free_port(exclude=(first,)) != first


def test_no_port_is_handed_out_twice_by_one_process() -> None:
    # 300 random picks from ~12,700 ports repeat one with a probability of about 97 %: servers
    # started after a batch of picks would race each other for it.
    ports = [find_free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_topic_round_trip_with_a_2mb_message(kafka: LocalKafka) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("localkafka.roundtrip", 6, 1)])
        [described] = await admin.describe_topics(["localkafka.roundtrip"])
        assert len(described["partitions"]) == 6
    finally:
        await admin.close()

    payload = os.urandom(TWO_MB)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, max_request_size=3 * 1024 * 1024
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait("localkafka.roundtrip", payload, key=b"k1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        "localkafka.roundtrip",
        bootstrap_servers=kafka.bootstrap_servers,
        group_id="localkafka-test",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert record.key == b"k1"
    assert record.value == payload


@pytest.mark.integration
@pytest.mark.asyncio
async def test_topics_are_never_auto_created(kafka: LocalKafka) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, request_timeout_ms=3000)
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait("localkafka.not-created", b"x")
    finally:
        await producer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        assert "localkafka.not-created" not in await admin.list_topics()
    finally:
        await admin.close()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_start_inside_a_running_loop_restart_and_stop(tmp_path: Path) -> None:
    # Blocking on purpose: start() must not trip over the event loop this coroutine runs in.
    broker = LocalKafka(LocalKafkaConfig(data_dir=tmp_path, port=0))
    broker.start()
    assert broker.is_running()
    assert (tmp_path / "kraft-logs" / "meta.properties").is_file()
    assert broker.log_file.stat().st_size > 0  # the broker logs to its file, via log4j2
    first_pid = broker._process.pid  # type: ignore[union-attr]
    broker.stop()
    broker.stop()  # idempotent
    assert not broker.is_running()
    assert process_gone(first_pid)

    # The same data dir starts again (no reformat) even with other ports.
    again = LocalKafka(LocalKafkaConfig(data_dir=tmp_path, port=0))
    with again:
        assert again.is_running()
        admin = AIOKafkaAdminClient(bootstrap_servers=again.bootstrap_servers)
        await admin.start()
        try:
            assert (await admin.describe_cluster())["brokers"]
        finally:
            await admin.close()
        pid = again._process.pid  # type: ignore[union-attr]
    assert not again.is_running()
    assert process_gone(pid)
