"""kb-gaps on a real broker: a retrieved event published to the real topic comes back as a
gap event on the agent's topic, and ``supportbus kb gaps`` reports it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from supportbus_cli.main import app as cli_app
from supportbus_contracts import KnowledgeRetrieved
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED
from supportbus_devtools.agent_testing import publish_events, read_events
from supportbus_kb_gaps.app import build_app
from supportbus_kb_gaps.declaration import GAP_FOUND_TOPIC
from supportbus_kb_gaps.events import KnowledgeGapFound
from supportbus_kb_gaps.settings import KbGapsSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_a_retrieved_event_without_an_answer_becomes_a_gap_on_kafka(
    kafka_bootstrap: str, retrieved: Callable[..., KnowledgeRetrieved]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = KbGapsSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix, topic_partitions=2
    )
    service_app = build_app(settings)  # the real catalog, from data/kb
    await service_app.app.start()  # creates the topics
    try:
        await publish_events(
            settings,
            KNOWLEDGE_RETRIEVED,
            # No article about exchange rates retrieved: a gap.
            retrieved("exchange_rate", {"kb-activate-card": 0.7}, request_id="gap-1"),
            # Answered: nothing published.
            retrieved("activate_my_card", {"kb-activate-card": 0.9}, request_id="ok-1"),
        )
        gaps = await read_events(settings, GAP_FOUND_TOPIC, KnowledgeGapFound)
    finally:
        await service_app.app.stop()
    (gap,) = gaps
    assert (gap.request_id, gap.intent, gap.reason) == (
        "gap-1",
        "exchange_rate",
        "no_article_for_intent",
    )
    assert "ann@example.com" not in gap.example_question

    env = {"SUPPORTBUS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "SUPPORTBUS_TOPIC_PREFIX": prefix}
    # The command runs its own event loop: off this one.
    result = await asyncio.to_thread(
        CliRunner().invoke, cli_app, ["kb", "gaps", "--json", "--timeout", "30"], env=env
    )
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["intent"], row["count"], row["best_score"], row["reasons"]) == (
        "exchange_rate",
        1,
        0.7,
        {"no_article_for_intent": 1},
    )
    assert "1 gap(s) in 1 intent(s)" in result.stderr
