"""The floor for one hop: plain aiokafka consume -> produce (acks=all, idempotent) -> commit,
a fetched batch at a time, run as its own process like the service it is compared with.

    python -m busbench.raw_relay --bootstrap HOST:PORT --source T --target T --group G \\
        --records M --max-seconds S
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from supportbus_devtools.topicreader import FETCH_BYTES
from supportbus_runtime.broker import PRODUCER_MAX_REQUEST_BYTES


async def relay(
    bootstrap: str, source: str, target: str, group: str, records: int, max_seconds: float
) -> int:
    """Relays until ``max_seconds`` pass or the process is stopped (it stays up after
    ``records``, so its CPU can still be read); returns how many were relayed."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        linger_ms=5,
    )
    await consumer.start()
    await producer.start()
    relayed = 0
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            if not batch:
                continue
            acks = [
                await producer.send(target, r.value, key=r.key, headers=list(r.headers))
                for rs in batch.values()
                for r in rs
            ]
            await asyncio.gather(*acks)  # outputs acknowledged before their inputs commit
            offsets: dict[TopicPartition, int] = {tp: rs[-1].offset + 1 for tp, rs in batch.items()}
            await consumer.commit(offsets)
            relayed += len(acks)
            if relayed >= records > relayed - len(acks):  # once, when the goal is reached
                print(f"raw relay: {relayed} records relayed", file=sys.stderr, flush=True)
    finally:
        await producer.stop()
        await consumer.stop()
    return relayed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    args = parser.parse_args(argv)
    relayed = asyncio.run(
        relay(args.bootstrap, args.source, args.target, args.group, args.records, args.max_seconds)
    )
    print(f"raw relay: {relayed} records relayed", file=sys.stderr)


if __name__ == "__main__":
    main()
