"""The agent's fixtures: response.ready events to review, the real OpenAI-compatible stub (a
subprocess on 127.0.0.1), and a real broker for the integration test (KAFKA_BOOTSTRAP_SERVERS if
set, otherwise the local KRaft broker from supportbus_devtools)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from supportbus_contracts import (
    Classification,
    RequestReceived,
    ResponseReady,
    SupportRequest,
    Ticket,
)
from supportbus_devtools.agent_testing import kafka_for_tests
from supportbus_devtools.testing import classification
from supportbus_llm_stub.testing import StubServer
from supportbus_reviewer.knowledge import KnowledgeArticle

ARTICLES = {
    "kb-lost-card": KnowledgeArticle(
        "kb-lost-card",
        "Lost or stolen card",
        "Freeze your card in the app at once, then order a replacement card. A frozen card "
        "cannot be used for payments or cash withdrawals.",
    ),
    "kb-card-delivery": KnowledgeArticle(
        "kb-card-delivery",
        "Card delivery",
        "A new card arrives within five working days. Track its delivery in the app.",
    ),
}
GROUNDED_REPLY = (
    "Hello, thank you for writing to us. Freeze your card in the app at once, then order a "
    "replacement card: a frozen card cannot be used for payments or cash withdrawals. "
    "Your ticket: http://helpdesk/v1/tickets/TCK-42"
)


def _ready(
    reply: str = GROUNDED_REPLY,
    cited: tuple[str, ...] = ("kb-lost-card",),
    *,
    request_id: str = "req-1",
    route_human: bool = False,
) -> ResponseReady:
    """What the responder would publish for request ``request_id``."""
    received = RequestReceived(
        request_id=request_id,
        request=SupportRequest(channel="email", customer_id="c1", body="I lost my card"),
    )
    label: Classification = classification("lost_or_stolen_card")
    if route_human:
        label = label.model_copy(update={"route": "human", "route_reason": "customer_asked"})
    return ResponseReady.derived_from(
        received,
        producer="responder",
        request=received.request,
        classification=label,
        ticket=Ticket(ticket_id="TCK-42", url="http://helpdesk/v1/tickets/TCK-42", status="open"),
        reply=reply,
        cited_article_ids=list(cited),
        composer="template",
    )


@pytest.fixture
def ready() -> Callable[..., ResponseReady]:
    return _ready


@pytest.fixture(scope="session")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kafka_for_tests(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture
def articles() -> dict[str, KnowledgeArticle]:
    """Two articles: ``kb-lost-card`` (what ``GROUNDED_REPLY`` says) and ``kb-card-delivery``."""
    return dict(ARTICLES)
