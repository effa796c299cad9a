"""What an operator sees of the running services: one trace per request across all of them,
Prometheus metrics, liveness and readiness."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from supportbus_classifier.training import LabelledTexts
from supportbus_cli.collect import collect_responses
from supportbus_cli.publishing import RequestLine, publish_requests
from supportbus_cli.settings import CliSettings
from supportbus_contracts import SupportRequest
from supportbus_contracts.topics import REQUEST_RECEIVED
from supportbus_devtools.localkafka import find_free_port
from supportbus_devtools.stack import SERVICES, Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXPECTED_SERIES = (
    "supportbus_messages_handled_total",
    "supportbus_handler_seconds_bucket",
    "supportbus_consumer_lag",
    "faststream_received_messages_total",
    "supportbus_published_messages_total",
)


def _spans(directory: Path) -> list[dict[str, Any]]:
    spans = []
    for path in directory.glob("spans-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                spans.append(json.loads(line))
            except ValueError:
                continue  # a line still being written
    return spans


def _trace_of(
    directory: Path, request_id: str, services: set[str], timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The spans of the request's trace, once every expected service has written its part."""
    deadline = time.monotonic() + timeout_s
    while True:
        spans = _spans(directory)
        trace_ids = {
            s["trace_id"]
            for s in spans
            if s["attributes"].get("supportbus.request_id") == request_id
        }
        trace = [s for s in spans if s["trace_id"] in trace_ids]
        if {s["service"] for s in trace} >= services or time.monotonic() > deadline:
            return trace
        time.sleep(0.5)


def test_one_request_is_one_trace_across_all_services_and_metrics_are_served(
    kafka_bootstrap: str,
    topic_prefix: str,
    service_env: dict[str, str],
    work_dir: Path,
    banking77: LabelledTexts,
) -> None:
    traces = work_dir / "traces"
    lines = [
        RequestLine(
            f"{topic_prefix}obs{n}",
            SupportRequest(
                channel="email",
                customer_id="cus_obs",
                email="obs@example.com",
                body=banking77.texts[n * 97],
            ),
        )
        for n in range(5)
    ]
    config = StackConfig(
        work_dir=work_dir,
        bootstrap_servers=kafka_bootstrap,
        helpdesk_port=find_free_port(),
        topic_prefix=topic_prefix,
        env=service_env,
        traces_dir=traces,
    )
    settings = CliSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix)
    with Stack(config) as stack:
        asyncio.run(publish_requests(settings, lines, show_progress=False))
        asyncio.run(
            _publish_invalid(
                kafka_bootstrap, topic_prefix + REQUEST_RECEIVED, f"{topic_prefix}obs-bad"
            )
        )
        found = asyncio.run(
            collect_responses(
                kafka_bootstrap,
                [line.request_id for line in lines],
                topic_prefix=topic_prefix,
                timeout_s=120,
            )
        )
        assert len(found) == len(lines)
        scraped = {
            s: httpx.get(f"{stack.operations_url(s)}/metrics", timeout=5).text for s in SERVICES
        }
        health = {
            s: (
                httpx.get(f"{stack.operations_url(s)}/healthz", timeout=5).status_code,
                httpx.get(f"{stack.operations_url(s)}/readyz", timeout=5).status_code,
            )
            for s in SERVICES
        }
    # Stopping flushed every process's batched spans.
    trace = _trace_of(traces, lines[0].request_id, {*SERVICES, "helpdesk"})

    assert health == {s: (200, 200) for s in SERVICES}
    for service, text in scraped.items():
        for series in EXPECTED_SERIES:
            assert f"\n{series}" in text, f"{service} lacks {series}"
        assert f'service="{service}"' in text
    assert "supportbus_classifier_confidence_bucket" in scraped["classifier"]

    assert len({s["trace_id"] for s in trace}) == 1, "one request, one trace"
    by_service: dict[str, set[str]] = defaultdict(set)
    for span in trace:
        by_service[span["service"]].add(span["name"])
    assert set(by_service) >= {*SERVICES, "helpdesk"}
    assert {"classify", "embed", "model_inference"} <= by_service["classifier"]
    assert {"vector_search", "embed"} <= by_service["retriever"]
    assert "create_ticket" in by_service["ticketer"]
    assert "compose_reply" in by_service["responder"]
    classify = next(s for s in trace if s["name"] == "classify")
    assert classify["attributes"]["supportbus.intent"]
    # Parent links hold the trace together: only one root, everything else has its parent.
    ids = {s["span_id"] for s in trace}
    roots = [s for s in trace if s["parent_span_id"] not in ids]
    assert len(roots) == 1, [r["name"] for r in roots]
    assert "obs@example.com" not in json.dumps(trace)

    # A dead-lettered record keeps its trace: the dead letter is published inside it.
    dead = _trace_of(traces, f"{topic_prefix}obs-bad", {"classifier"})
    assert len({s["trace_id"] for s in dead}) == 1
    assert any(s["name"].endswith(".dlq publish") for s in dead), [s["name"] for s in dead]


async def _publish_invalid(bootstrap: str, topic: str, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"request": "not an object"}', key=key.encode())
    finally:
        await producer.stop()
