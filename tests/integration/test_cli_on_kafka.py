"""The operator CLI against a real broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportbus_cli.main import app
from supportbus_contracts import RequestReceived
from supportbus_contracts.topics import REQUEST_RECEIVED
from supportbus_devtools.topicreader import read_topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

runner = CliRunner()


async def _received(bootstrap: str, topic: str) -> list[RequestReceived]:
    return [
        RequestReceived.model_validate_json(r.value or b"")
        async for r in read_topics(bootstrap, [topic], idle_timeout_s=1.5)
    ]


def test_publish_file_sends_each_request_keyed_by_its_id(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "request_id": "cli-1",
                    "channel": "email",
                    "customer_id": "c1",
                    "body": "Card stolen",
                },
                {"channel": "chat", "customer_id": "c2", "body": "Where is my card?"},
            ]
        )
        + "\n"
    )
    env = {
        "SUPPORTBUS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SUPPORTBUS_TOPIC_PREFIX": topic_prefix,
    }
    result = runner.invoke(app, ["publish", "--file", str(requests)], env=env)
    assert result.exit_code == 0, result.output
    printed = result.stdout.split()
    assert printed[0] == "cli-1"
    assert printed[1].startswith("req-")
    result = runner.invoke(
        app, ["publish", "--text", "I was charged twice", "--channel", "web"], env=env
    )
    assert result.exit_code == 0, result.output
    events = asyncio.run(_received(kafka_bootstrap, topic_prefix + REQUEST_RECEIVED))
    assert sorted(e.request_id for e in events) == sorted([*printed, result.stdout.split()[0]])
    assert {e.request.channel for e in events} == {"email", "chat", "web"}


def test_dlq_list_on_an_empty_pipeline_says_so(kafka_bootstrap: str, topic_prefix: str) -> None:
    env = {
        "SUPPORTBUS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SUPPORTBUS_TOPIC_PREFIX": topic_prefix,
    }
    assert runner.invoke(app, ["topics"], env=env).exit_code == 0
    result = runner.invoke(app, ["dlq", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ""
    assert "0 dead letter(s)" in result.output
