"""The pipeline on a broker that authenticates and authorises, as managed Kafka does: SASL_SSL
with SCRAM-SHA-512, the StandardAuthorizer, and one principal per service whose ACLs come from
its declaration. The services, as OS processes, work end to end; each principal is denied what
it does not own; wrong credentials stop a service at start with one clear line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from supportbus_classifier.declaration import DECLARATION as CLASSIFIER
from supportbus_classifier.training import LabelledTexts
from supportbus_cli.collect import collect_responses
from supportbus_cli.dlq import list_dead_letters
from supportbus_cli.publishing import RequestLine, publish_requests
from supportbus_cli.settings import CliSettings
from supportbus_contracts import SupportRequest
from supportbus_contracts.topics import (
    KNOWLEDGE_RETRIEVED,
    REQUEST_CLASSIFIED,
    REQUEST_RECEIVED,
    RESPONSE_READY,
    TICKET_CREATED,
    dead_letter_topic,
)
from supportbus_devtools.contracts_topics import pipeline_topics
from supportbus_devtools.localkafka import LocalKafka, LocalKafkaConfig, find_free_port
from supportbus_devtools.securekafka import ADMIN, BrokerSecurity, env_for, service_grant
from supportbus_devtools.stack import SERVICES, Stack, StackConfig
from supportbus_responder.declaration import DECLARATION as RESPONDER
from supportbus_retriever.declaration import DECLARATION as RETRIEVER
from supportbus_runtime.broker import ensure_topics
from supportbus_runtime.kafka_security import kafka_client_options
from supportbus_ticketer.declaration import DECLARATION as TICKETER

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DECLARATIONS = (CLASSIFIER, RETRIEVER, TICKETER, RESPONDER)
PREFIX = "sec."  # the pipeline's topics
PROBE = "acl."  # the same topics and grants, each holding one record, for the denial tests


@dataclass(frozen=True)
class SecuredKafka:
    kafka: LocalKafka
    security: BrokerSecurity

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    def options(self, user: str) -> dict[str, object]:
        return kafka_client_options(self.security.client_settings(user))


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    data_dir = tmp_path_factory.mktemp("secured-kafka")
    security = BrokerSecurity(data_dir / "security", users=[d.name for d in DECLARATIONS])
    kafka = LocalKafka(
        LocalKafkaConfig(
            data_dir=data_dir / "broker",
            cache_dir=CliSettings().cache_dir,
            port=0,
            security=security,
        )
    )
    kafka.start()
    try:
        admin = security.client_settings(ADMIN)
        for prefix in (PREFIX, PROBE):
            asyncio.run(
                ensure_topics(
                    kafka.bootstrap_servers, pipeline_topics(prefix), partitions=3, security=admin
                )
            )
        kafka.grant([service_grant(d, p) for d in DECLARATIONS for p in (PREFIX, PROBE)])
        secured = SecuredKafka(kafka, security)
        for topic in pipeline_topics(PROBE):
            asyncio.run(_write_one(secured, ADMIN, topic))
        yield secured
    finally:
        kafka.stop()


def _admin_cli(secured: SecuredKafka) -> CliSettings:
    env = secured.security.client_env("", ADMIN)
    return CliSettings.model_validate(
        {
            "kafka_bootstrap_servers": secured.bootstrap,
            "topic_prefix": PREFIX,
            "topic_partitions": 3,
            **{key.lower(): value for key, value in env.items()},
        }
    )


def test_the_pipeline_answers_every_request_on_a_sasl_ssl_broker_with_acls(
    secured: SecuredKafka, service_env: dict[str, str], work_dir: Path, banking77: LabelledTexts
) -> None:
    env = {
        **service_env,
        **env_for(secured.security, {f"{s.upper()}_": s for s in SERVICES}),
        # Topics are the operator's on a secured cluster: no service may create any.
        **{f"{s.upper()}_CREATE_TOPICS": "false" for s in SERVICES},
    }
    lines = [
        RequestLine(
            f"{PREFIX}r{n:02d}",
            SupportRequest(channel="email", customer_id=f"cus_{n}", body=banking77.texts[n * 97]),
        )
        for n in range(20)
    ]
    cli = _admin_cli(secured)
    config = StackConfig(
        work_dir=work_dir,
        bootstrap_servers=secured.bootstrap,
        helpdesk_port=find_free_port(),
        topic_prefix=PREFIX,
        partitions=3,
        env=env,
    )
    with Stack(config) as stack:
        asyncio.run(publish_requests(cli, lines, show_progress=False))
        found = asyncio.run(
            collect_responses(
                secured.bootstrap,
                [line.request_id for line in lines],
                topic_prefix=PREFIX,
                timeout_s=240,
                client_options=secured.options(ADMIN),
            )
        )
        stack.check_alive()
        tickets = stack.ticket_count()
    assert set(found) == {line.request_id for line in lines}
    assert tickets == 20
    assert asyncio.run(list_dead_letters(cli)) == []


async def _read(secured: SecuredKafka, user: str, topic: str, group: str | None) -> int:
    """How many records ``user`` reads from ``topic`` (partitions assigned, or subscribed as
    ``group``). A topic the principal may not even describe is invisible: no error, no records;
    one it may describe but not read raises TopicAuthorizationFailedError."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=secured.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **secured.options(user),
    )
    await consumer.start()
    read = 0
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, p) for p in range(3)])
        else:
            consumer.subscribe([topic])
        for _ in range(4):
            batch = await consumer.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    return read


async def _describable(secured: SecuredKafka, user: str, topic: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=secured.bootstrap, **secured.options(user))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return not described.get("error_code")


async def _write_one(secured: SecuredKafka, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=secured.bootstrap, enable_idempotence=True, **secured.options(user)
    )
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 20)
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        ("classifier", KNOWLEDGE_RETRIEVED),  # the ticketer's input
        ("ticketer", REQUEST_RECEIVED),  # the classifier's input
        ("responder", REQUEST_CLASSIFIED),  # the retriever's input
    ],
)
def test_a_service_cannot_read_another_services_input(
    secured: SecuredKafka, user: str, topic: str
) -> None:
    assert asyncio.run(_read(secured, ADMIN, PROBE + topic, None)) == 1  # there is a record
    assert not asyncio.run(_describable(secured, user, PROBE + topic))
    assert asyncio.run(_read(secured, user, PROBE + topic, None)) == 0


def test_a_service_cannot_read_the_topic_it_writes(secured: SecuredKafka) -> None:
    # Describe comes with Write; Read does not: the broker answers with an authorization error.
    assert asyncio.run(_describable(secured, "classifier", PROBE + REQUEST_CLASSIFIED))
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_read(secured, "classifier", PROBE + REQUEST_CLASSIFIED, None))


def test_a_service_reads_its_input_only_as_its_own_consumer_group(secured: SecuredKafka) -> None:
    own = f"{PROBE}supportbus-classifier"
    assert asyncio.run(_read(secured, "classifier", PROBE + REQUEST_RECEIVED, own)) == 1
    with pytest.raises(GroupAuthorizationFailedError):
        asyncio.run(_read(secured, "classifier", PROBE + REQUEST_RECEIVED, "someone-else"))


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        ("classifier", RESPONSE_READY),  # the responder's output
        ("ticketer", REQUEST_RECEIVED),  # producers' topic
        ("retriever", TICKET_CREATED),
    ],
)
def test_a_service_cannot_write_a_topic_it_does_not_own(
    secured: SecuredKafka, user: str, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_write_one(secured, user, PROBE + topic))


def test_a_service_can_write_exactly_its_own_outputs(secured: SecuredKafka) -> None:
    # The denials above are ACLs at work, not a broker that refuses everyone.
    asyncio.run(_write_one(secured, "classifier", PROBE + REQUEST_CLASSIFIED))
    asyncio.run(_write_one(secured, "classifier", dead_letter_topic(PROBE + REQUEST_RECEIVED)))


@pytest.mark.parametrize("problem", ["wrong-password", "unknown-user"])
def test_a_service_with_wrong_credentials_fails_at_start_saying_what_to_check(
    secured: SecuredKafka, tmp_path: Path, problem: str
) -> None:
    password = tmp_path / "password"
    password.write_text(f"not-the-password-{uuid.uuid4().hex}\n")
    user = "ticketer" if problem == "wrong-password" else "nobody"
    env = {
        **os.environ,
        **secured.security.client_env("TICKETER_", user),
        "TICKETER_KAFKA_SASL_PASSWORD_FILE": str(password),
        "TICKETER_KAFKA_BOOTSTRAP_SERVERS": secured.bootstrap,
        "TICKETER_TOPIC_PREFIX": PREFIX,
        "TICKETER_CREATE_TOPICS": "false",
        "TICKETER_HTTP_PORT": str(find_free_port()),
        # No helpdesk: the ticketer starts without one (tickets would wait), so what stops it
        # here is Kafka alone.
        "TICKETER_HELPDESK_URL": f"http://127.0.0.1:{find_free_port()}",
    }
    started = subprocess.run(
        [sys.executable, "-m", "supportbus_ticketer.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert started.returncode == 2, started.stderr[-2000:]
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"supportbus-ticketer: cannot start: Kafka refused the credentials of {user}"
    ), last
    assert "TICKETER_KAFKA_SASL_PASSWORD_FILE" in last
    assert password.read_text().strip() not in started.stderr
