"""The reviewer on a real broker with its real CrewAI crew and the real stub: replies published
to the responder's topic come back as review events on the agent's topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import RESPONSE_READY
from supportbus_devtools.agent_testing import publish_events, read_events
from supportbus_llm_stub.testing import StubServer
from supportbus_reviewer.app import build_app
from supportbus_reviewer.declaration import REVIEWED_TOPIC
from supportbus_reviewer.events import ReplyReviewed
from supportbus_reviewer.settings import ReviewerSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_replies_on_kafka_come_back_reviewed_by_the_crew(
    kafka_bootstrap: str, stub: StubServer, ready: Callable[..., ResponseReady]
) -> None:
    stub.script([], default={"kind": "echo_valid"})
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = ReviewerSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        topic_partitions=2,
        llm_base_url=stub.base_url,
        llm_model="stub-large",
    )
    service_app = build_app(settings)  # the real crew and the real knowledge base (data/kb)
    await service_app.app.start()  # creates the topics
    try:
        grounded = ready(
            "Hello, thank you for asking. Activate your card in the app: open Cards, choose "
            "Activate and enter the code printed on the letter that came with the card.",
            ("kb-activate-card",),
            request_id="good-1",
        )
        promising = ready(
            "We guarantee a full refund and compensation today.",
            ("kb-activate-card",),
            request_id="bad-1",
        )
        handed_off = ready(request_id="human-1", route_human=True)
        await publish_events(settings, RESPONSE_READY, grounded, promising, handed_off)
        reviews = await read_events(
            settings,
            REVIEWED_TOPIC,
            ReplyReviewed,
            done=lambda found: len(found) >= 2,
            timeout_s=90,
        )
    finally:
        await service_app.app.stop()
    by_request = {r.request_id: r for r in reviews}
    assert set(by_request) == {"good-1", "bad-1"}  # the holding reply is not reviewed
    assert by_request["bad-1"].verdict == "flagged"
    assert "unsupported_promise" in {f.kind for f in by_request["bad-1"].findings}
    assert by_request["good-1"].score > by_request["bad-1"].score
    assert {r.reviewer_model for r in reviews} == {"stub-large"}
    assert len(stub.requests()) == 2
