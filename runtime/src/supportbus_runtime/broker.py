"""Broker wiring: a producer that does not lose acknowledged events, and explicit topic creation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from supportbus_contracts.envelope import Event
from supportbus_runtime.errors import ConfigurationError, TransientError
from supportbus_runtime.kafka_security import (
    AUTHORIZATION_ERRORS,
    KafkaSecuritySettings,
    check_credentials,
    describe_refusal,
    faststream_security,
    kafka_client_options,
)
from supportbus_runtime.records import readable_headers_parser
from supportbus_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

# Our producer accepts whatever the broker may have accepted from others (brokers default to
# 1 MiB and are often raised to a few MiB), so a large record can be dead-lettered whole.
PRODUCER_MAX_REQUEST_BYTES = 16 * 1024 * 1024
# Kafka protocol error codes in a DescribeTopics answer.
_UNKNOWN_TOPIC = 3
_TOPIC_AUTHORIZATION_FAILED = 29


def build_broker(
    settings: ServiceSettings, *, client_id: str, middlewares: Sequence[Any] = ()
) -> KafkaBroker:
    """A FastStream broker whose producer waits for all in-sync replicas (acks=all) and is
    idempotent, so a retried send never writes a record twice, and batches what records in
    flight publish together (linger)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=faststream_security(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        # Many records in flight publish at once: a few ms of linger fills batches.
        linger_ms=settings.producer_linger_ms,
        logger=logging.getLogger(f"supportbus.{client_id}.broker"),
        log_level=logging.INFO if settings.access_log else logging.DEBUG,
        middlewares=tuple(middlewares),
        # No dependency injection: handlers receive the message (see records.message_itself).
        apply_types=False,
        # Records whose header values are not UTF-8 (or null) reach the delivery policy too,
        # instead of failing in FastStream's parser and being skipped.
        parser=readable_headers_parser,
    )


@dataclass(frozen=True)
class EventRecord:
    """How an event travels: JSON value, request_id key, self-describing headers."""

    value: bytes
    key: bytes | None
    headers: dict[str, str]
    correlation_id: str | None

    @classmethod
    def of(cls, event: Event) -> EventRecord:
        return cls(
            value=event.model_dump_json().encode(),
            key=event.request_id.encode(),
            headers={
                "content-type": "application/json",
                "event-type": event.type,
                "event-id": str(event.event_id),
            },
            correlation_id=event.correlation_id,
        )


async def publish_event(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Publish and wait for the broker's acknowledgement (acks=all)."""
    record = EventRecord.of(event)
    await broker.publish(
        record.value,
        topic=topic,
        key=record.key,
        headers=record.headers,
        correlation_id=record.correlation_id,
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    security: KafkaSecuritySettings | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns those it created. Never relies on the
    broker's auto-creation, which would pick its own partition count.

    Credentials the broker refuses, or ACLs that forbid it, are a ``ConfigurationError``:
    waiting would not change them."""
    if security is not None:
        await check_credentials(bootstrap_servers, security)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="supportbus-admin",
        **({} if security is None else kafka_client_options(security)),
    )
    try:
        await admin.start()
        wanted = list(dict.fromkeys(topics))
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(t, num_partitions=partitions, replication_factor=replication_factor)
                    for t in missing
                ]
            )
            _raise_on_topic_errors(response.to_object().get("topic_errors", []))
            log.info("created topics %s with %d partitions", missing, partitions)
        # Also for topics another process has just created: they may still lack leaders.
        await _wait_for_leaders(admin, wanted)
        return missing
    except AUTHORIZATION_ERRORS as error:
        raise ConfigurationError(
            describe_refusal(error, security or KafkaSecuritySettings.model_validate({}))
        ) from error
    except KafkaError as error:
        raise TransientError(f"cannot create topics on {bootstrap_servers}: {error}") from error
    finally:
        await admin.close()


async def check_topics(
    bootstrap_servers: str, topics: Iterable[str], *, security: KafkaSecuritySettings
) -> None:
    """Where topics are made by someone else (a secured cluster's operator): check that they
    exist and that this principal may see them (DESCRIBE, implied by READ and WRITE)."""
    await check_credentials(bootstrap_servers, security)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="supportbus-admin",
        **kafka_client_options(security),
    )
    wanted = list(dict.fromkeys(topics))
    try:
        await admin.start()
        described = await admin.describe_topics(wanted)
    except AUTHORIZATION_ERRORS as error:
        raise ConfigurationError(describe_refusal(error, security)) from error
    except KafkaError as error:
        raise TransientError(f"cannot describe topics on {bootstrap_servers}: {error}") from error
    finally:
        await admin.close()
    denied = [t["topic"] for t in described if t.get("error_code") == _TOPIC_AUTHORIZATION_FAILED]
    missing = [t["topic"] for t in described if t.get("error_code") == _UNKNOWN_TOPIC]
    if denied:
        raise ConfigurationError(
            f"Kafka denied {security.kafka_sasl_username or 'this client'} access to {denied}: "
            "check the ACLs of that principal"
        )
    if missing:
        raise ConfigurationError(
            f"topics {missing} do not exist and *_CREATE_TOPICS is off: create them first "
            "(supportbus topics)"
        )


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float = 30.0
) -> None:
    """A created topic takes a moment to elect partition leaders; producing before that only
    earns NotLeaderForPartition retries, so wait until every partition has one."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        described = await admin.describe_topics(topics)
        ready = all(
            not item.get("error_code")
            and item.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in item["partitions"])
            for item in described
        )
        if ready:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TransientError(f"topics {topics} have no partition leaders after {timeout_s} s")
        await asyncio.sleep(0.1)


def _raise_on_topic_errors(topic_errors: list[dict[str, object]]) -> None:
    for item in topic_errors:
        code = item.get("error_code")
        if code and code != TopicAlreadyExistsError.errno:
            raise TransientError(
                f"topic {item.get('topic')} not created: error {code} "
                f"{item.get('error_message') or ''}".strip()
            )
