"""The agent's fixtures: retrieved events to feed it, and a real broker for its integration
test (KAFKA_BOOTSTRAP_SERVERS if set, otherwise the local KRaft broker from supportbus_devtools;
the repository's tests/conftest.py, which also tries testcontainers, covers only tests/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from supportbus_contracts import Article, KnowledgeRetrieved, RequestReceived, SupportRequest
from supportbus_devtools.agent_testing import kafka_for_tests
from supportbus_devtools.testing import classified

PII_BODY = "I lost my card, call me on +44 20 7946 0958 or mail ann@example.com"


def _retrieved(
    intent: str = "lost_or_stolen_card",
    scores: dict[str, float] | None = None,
    *,
    body: str = PII_BODY,
    request_id: str = "req-1",
) -> KnowledgeRetrieved:
    """What the retriever would publish: ``scores`` maps article ids to their scores, best
    first (default: kb-lost-card 0.8, kb-card-delivery 0.3); the category is "cards"."""
    scores = {"kb-lost-card": 0.8, "kb-card-delivery": 0.3} if scores is None else scores
    received = RequestReceived(
        request_id=request_id,
        request=SupportRequest(channel="email", customer_id="c1", body=body),
    )
    cause = classified(received, intent=intent)
    return KnowledgeRetrieved.derived_from(
        cause,
        producer="retriever",
        request=cause.request,
        classification=cause.classification,
        articles=[Article(article_id=a, title=a, snippet="x", score=s) for a, s in scores.items()],
    )


@pytest.fixture
def retrieved() -> Callable[..., KnowledgeRetrieved]:
    return _retrieved


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kafka_for_tests(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap
