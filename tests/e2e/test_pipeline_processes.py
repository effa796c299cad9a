"""The four services and the helpdesk as real OS processes on a real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from supportbus_classifier.training import LabelledTexts
from supportbus_cli.collect import collect_responses, collect_reviews
from supportbus_cli.dlq import list_dead_letters
from supportbus_cli.handoff_command import human_queue
from supportbus_cli.publishing import RequestLine, publish_requests
from supportbus_cli.settings import CliSettings
from supportbus_contracts import KnowledgeRetrieved, ResponseReady, SupportRequest
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_RECEIVED
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.processes import read_lines
from supportbus_devtools.stack import Stack, StackConfig
from supportbus_devtools.topicreader import read_topics
from supportbus_kb_gaps.catalog import load_catalog
from supportbus_kb_gaps.decision import find_gap
from supportbus_kb_gaps.declaration import GAP_FOUND_TOPIC
from supportbus_kb_gaps.events import KnowledgeGapFound
from supportbus_kb_gaps.settings import KbGapsSettings
from supportbus_llm_stub.testing import StubServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CHANNELS = ("email", "chat", "api", "web")


def _requests(data: LabelledTexts, count: int, prefix: str) -> list[RequestLine]:
    step = max(len(data.texts) // count, 1)
    return [
        RequestLine(
            f"{prefix}r{n:04d}",
            SupportRequest(
                channel=CHANNELS[n % 4],
                customer_id=f"cus_{n:04d}",
                email=f"customer{n}@example.com" if n % 4 == 0 else None,
                body=data.texts[(n * step) % len(data.texts)],
            ),
        )
        for n in range(count)
    ]


def _settings(bootstrap: str, prefix: str) -> CliSettings:
    return CliSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)


def _stack(
    bootstrap: str,
    prefix: str,
    env: dict[str, str],
    work_dir: Path,
    agents: tuple[str, ...] = (),
) -> Stack:
    return Stack(
        StackConfig(
            work_dir=work_dir,
            bootstrap_servers=bootstrap,
            helpdesk_port=find_free_port(),
            topic_prefix=prefix,
            env=env,
            agents=agents,
        )
    )


def _gaps(bootstrap: str, prefix: str, request_ids: set[str]) -> tuple[set[str], set[str]]:
    """(the requests the kb-gaps agent's decision says are gaps, the gaps it published), from
    the retrieved topic it subscribes to and the topic it writes."""
    catalog = load_catalog(KbGapsSettings().kb_dir)
    min_score = KbGapsSettings().min_score

    async def read() -> tuple[set[str], set[str]]:
        expected = set()
        async for record in read_topics(bootstrap, [prefix + KNOWLEDGE_RETRIEVED]):
            event = KnowledgeRetrieved.model_validate_json(record.value or b"")
            if event.request_id in request_ids and find_gap(event, catalog, min_score):
                expected.add(event.request_id)
        found: set[str] = set()
        async for record in read_topics(
            bootstrap, [prefix + GAP_FOUND_TOPIC], deadline_s=60, done=lambda: expected <= found
        ):
            found.add(KnowledgeGapFound.model_validate_json(record.value or b"").request_id)
        return expected, found

    return asyncio.run(read())


def _assert_one_answer_each(
    found: dict[str, list[ResponseReady]], lines: list[RequestLine]
) -> None:
    assert set(found) == {line.request_id for line in lines}
    for request_id, responses in found.items():
        # Redelivery may repeat an event, never produce a different one.
        assert len({r.event_id for r in responses}) == 1, request_id
        assert len({r.ticket.ticket_id for r in responses}) == 1, request_id
    tickets = {responses[0].ticket.ticket_id for responses in found.values()}
    assert len(tickets) == len(lines)


def _collect(
    bootstrap: str, prefix: str, lines: list[RequestLine], *, timeout_s: float
) -> dict[str, list[ResponseReady]]:
    request_ids = [line.request_id for line in lines]
    return asyncio.run(
        collect_responses(bootstrap, request_ids, topic_prefix=prefix, timeout_s=timeout_s)
    )


def _handled(stack: Stack, process: str) -> float:
    """supportbus_messages_handled_total scraped from one process's /metrics."""
    return stack.metric_sum(process, "supportbus_messages_handled_total")


def test_200_requests_get_200_replies_and_200_distinct_tickets_with_two_of_some_services(
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    work_dir: Path,
    banking77: LabelledTexts,
) -> None:
    lines = _requests(banking77, 200, topic_prefix)
    settings = _settings(kafka_bootstrap, topic_prefix)
    with _stack(kafka_bootstrap, topic_prefix, service_env, work_dir) as stack:
        # Scaling out is starting more processes in the same consumer group.
        replicas = [stack.add_replica("classifier"), stack.add_replica("ticketer")]
        # Publish once every process owns partitions: with records handled concurrently, a
        # replica still loading its model would otherwise find the work already done.
        stack.wait_until_assigned(["classifier", "ticketer", *replicas])
        started = time.perf_counter()
        asyncio.run(publish_requests(settings, lines, show_progress=False))
        found = _collect(kafka_bootstrap, topic_prefix, lines, timeout_s=300)
        elapsed = time.perf_counter() - started
        stack.check_alive()
        ticket_count = stack.ticket_count()
        handled = {name: _handled(stack, name) for name in ("classifier", "ticketer", *replicas)}
        access_lines = {
            name: sum('"message": "Received"' in line for line in read_lines(process.log_path))
            for name, process in stack.processes.items()
            if name != "helpdesk"
        }
    print(
        f"\nE2E: 200 requests answered in {elapsed:.1f} s ({200 / elapsed:.1f} req/s); "
        f"handled per process: {handled}"
    )
    _assert_one_answer_each(found, lines)
    assert ticket_count == 200
    assert asyncio.run(list_dead_letters(settings)) == []
    # No per-record access log by default (*_ACCESS_LOG): 200 records, not one "Received".
    assert set(access_lines.values()) == {0}, access_lines
    # Both processes of a scaled service took a share of the partitions and of the work.
    assert all(count > 0 for count in handled.values()), handled
    assert handled["classifier"] + handled["classifier-2"] >= 200
    for responses in found.values():
        reply = responses[0]
        assert reply.ticket.url in reply.reply
        if reply.classification.route == "human":  # e.g. compromised_card: a holding reply
            assert (reply.composer, reply.cited_article_ids) == ("handoff", [])
            continue
        assert reply.cited_article_ids, "every automated reply is grounded in an article"
        assert all(article_id in reply.reply for article_id in reply.cited_article_ids)


def test_ticketer_killed_mid_run_still_makes_exactly_200_tickets_and_replies(
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    work_dir: Path,
    banking77: LabelledTexts,
) -> None:
    lines = _requests(banking77, 200, topic_prefix)
    settings = _settings(kafka_bootstrap, topic_prefix)
    with _stack(kafka_bootstrap, topic_prefix, service_env, work_dir) as stack:
        asyncio.run(publish_requests(settings, lines, show_progress=False))
        deadline = time.monotonic() + 180
        while stack.ticket_count() < 30:
            assert time.monotonic() < deadline, "the ticketer made no progress"
            stack.check_alive()
            time.sleep(0.05)
        stack.processes["ticketer"].kill_hard()
        at_kill = stack.ticket_count()
        print(f"\nCRASH: ticketer killed with SIGKILL after {at_kill} tickets")
        assert at_kill < 200, "the run finished before the kill: nothing was tested"
        stack.restart("ticketer")
        found = _collect(kafka_bootstrap, topic_prefix, lines, timeout_s=300)
        stack.check_alive()
        ticket_count = stack.ticket_count()
    _assert_one_answer_each(found, lines)
    assert ticket_count == 200
    assert asyncio.run(list_dead_letters(settings)) == []


def _publish_steadily(settings: CliSettings, lines: list[RequestLine], chunks: int) -> None:
    """Requests keep arriving while the group rebalances (bounded: ``chunks`` rounds)."""
    size = -(-len(lines) // chunks)
    for start in range(0, len(lines), size):
        asyncio.run(publish_requests(settings, lines[start : start + size], show_progress=False))
        time.sleep(0.3)


def _wait_for_tickets(stack: Stack, count: int, timeout_s: float = 180) -> int:
    deadline = time.monotonic() + timeout_s
    while (seen := stack.ticket_count()) < count:
        assert time.monotonic() < deadline, f"only {seen} tickets, waiting for {count}"
        time.sleep(0.05)
    return seen


def test_replicas_joining_and_killed_while_requests_flow_lose_nothing_and_duplicate_nothing(
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    work_dir: Path,
    banking77: LabelledTexts,
) -> None:
    lines = _requests(banking77, 300, topic_prefix)
    settings = _settings(kafka_bootstrap, topic_prefix)
    with _stack(kafka_bootstrap, topic_prefix, service_env, work_dir) as stack:
        publisher = threading.Thread(target=_publish_steadily, args=(settings, lines, 15))
        publisher.start()
        try:
            _wait_for_tickets(stack, 20)
            joined = [stack.add_replica("ticketer"), stack.add_replica("classifier")]
            _wait_for_tickets(stack, 90)
            # The original ticketer holds partitions with records in flight: kill it.
            stack.processes["ticketer"].kill_hard()
            at_first_kill = stack.ticket_count()
            _wait_for_tickets(stack, min(at_first_kill + 60, 280))
            stack.processes[joined[1]].kill_hard()
            at_second_kill = stack.ticket_count()
        finally:
            publisher.join(timeout=120)
        found = _collect(kafka_bootstrap, topic_prefix, lines, timeout_s=300)
        ticket_count = stack.ticket_count()
        killed = {n: stack.processes[n].returncode for n in ("ticketer", joined[1])}
        stack.check_alive([n for n in stack.processes if n not in killed])
    print(
        f"\nREBALANCE: joined {joined}; killed ticketer at {at_first_kill} tickets and "
        f"{joined[1]} at {at_second_kill}"
    )
    # The faults really happened, while work was still outstanding.
    assert killed == {"ticketer": -9, joined[1]: -9}
    assert at_second_kill < 300
    _assert_one_answer_each(found, lines)
    assert ticket_count == 300
    assert asyncio.run(list_dead_letters(settings)) == []


async def _publish_raw(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"bad")
    finally:
        await producer.stop()


def test_bad_input_is_dead_lettered_with_reasons_while_good_requests_complete(
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    work_dir: Path,
    banking77: LabelledTexts,
) -> None:
    # One of the good requests asks for a person: it is handed off (human queue, holding reply).
    asking = RequestLine(
        f"{topic_prefix}handoff",
        SupportRequest(channel="chat", customer_id="cus_h", body="Can I talk to a human please?"),
    )
    lines = [*_requests(banking77, 19, topic_prefix), asking]
    settings = _settings(kafka_bootstrap, topic_prefix)
    valid = {
        "request_id": "big-1",
        "request": {"channel": "email", "customer_id": "c", "body": "x"},
    }
    huge = json.loads(json.dumps(valid))
    huge["request"]["body"] = "I need help. " * 160_000  # about 2 MB
    bad = {
        "MalformedJson": b'{"request_id": "m-1", "request": {',
        "SchemaValidationError": json.dumps(
            {
                "request_id": "s-1",
                "request": {"channel": "pigeon", "customer_id": "c", "body": "hello"},
            }
        ).encode(),
        "MessageTooLarge": json.dumps(huge).encode(),
        "InvalidEncoding": b'{"request_id": "u-1", "body": "caf\xe9 \xff\xfe"}',
    }
    assert len(bad["MessageTooLarge"]) > 2_000_000
    topic = topic_prefix + REQUEST_RECEIVED
    # Two agents join the bus beside the four services, each in its own consumer group: kb-gaps
    # (the retrieved topic) and the CrewAI reviewer (the replies; standalone, its own
    # environment, its LLM the stub); the retriever searches with the Haystack pipeline.
    agents = ("kb-gaps", "reviewer")
    llm = StubServer(echo_valid=True, log_path=work_dir / "logs" / "llm-stub.log").start()
    env = {
        **service_env,
        "RETRIEVER_STORE": "haystack",
        "REVIEWER_LLM_BASE_URL": llm.base_url,
        "REVIEWER_LLM_MODEL": "stub-large",
    }
    with llm, _stack(kafka_bootstrap, topic_prefix, env, work_dir, agents) as stack:
        asyncio.run(publish_requests(settings, lines[:10], show_progress=False))
        asyncio.run(_publish_raw(kafka_bootstrap, topic, list(bad.values())))
        asyncio.run(publish_requests(settings, lines[10:], show_progress=False))
        found = _collect(kafka_bootstrap, topic_prefix, lines, timeout_s=240)
        stack.check_alive()
        letters = asyncio.run(list_dead_letters(settings))
        ticket_count = stack.ticket_count()
        with stack.config.helpdesk_client() as helpdesk:
            queue, _ = human_queue(helpdesk, limit=200)
        expected_gaps, gaps = _gaps(kafka_bootstrap, topic_prefix, set(found))
        automated = {r for r, responses in found.items() if responses[0].composer != "handoff"}
        reviews = asyncio.run(
            collect_reviews(kafka_bootstrap, automated, topic_prefix=topic_prefix)
        )
        stack.check_alive()
        retriever_log = "\n".join(read_lines(stack.processes["retriever"].log_path))
    _assert_one_answer_each(found, lines)
    assert "knowledge index: haystack in memory" in retriever_log
    # Every automated reply was reviewed once (redelivery may repeat the same event), against
    # the articles it cites; the holding reply of the handed-off request was not.
    assert set(reviews) == automated
    assert len(automated) == 19
    for request_id, events in reviews.items():
        assert len({e["event_id"] for e in events}) == 1, request_id
        review, reply = events[0], found[request_id][0]
        assert review["cited_article_ids"] == reply.cited_article_ids
        assert (review["ticket_id"], review["reviewer_model"]) == (
            reply.ticket.ticket_id,
            "stub-large",
        )
        assert review["verdict"] in {"approved", "flagged"}
    print("\nREVIEWS:", Counter(e[0]["verdict"] for e in reviews.values()))
    assert ticket_count == 20
    # The agent published exactly the gaps its decision finds: none missed, none extra.
    assert expected_gaps, "no request of the 20 is a gap: the check would prove nothing"
    assert gaps == expected_gaps
    holding = found[asking.request_id][0]
    assert (holding.classification.route, holding.classification.route_reason) == (
        "human",
        "customer_asked",
    )
    assert holding.composer == "handoff"
    assert "member of our team will answer you personally" in holding.reply
    assert asking.request_id in {ticket["request_id"] for ticket in queue}
    by_type = {letter.error_type: letter for letter in letters}
    assert set(by_type) == set(bad)
    for error_type, letter in by_type.items():
        assert letter.value == bad[error_type], error_type  # the original bytes, untouched
        assert letter.service == "classifier"
        assert letter.original_topic == topic
        assert letter.reason
    assert "exceeds" in by_type["MessageTooLarge"].reason
    assert "request.channel" in by_type["SchemaValidationError"].reason
    assert "UTF-8" in by_type["InvalidEncoding"].reason
