"""The reviewer as a service, on FastStream's in-memory TestKafkaBroker with a fake reviewer:
what it publishes, what it skips and what it dead-letters."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import TestKafkaBroker

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import DLQ_HEADER_SERVICE, RESPONSE_READY, dead_letter_topic
from supportbus_devtools.testing import RecordedMessage, record_topic
from supportbus_reviewer.app import build_app
from supportbus_reviewer.declaration import REVIEWED_TOPIC
from supportbus_reviewer.errors import ReviewOutputInvalid, ReviewTimedOut
from supportbus_reviewer.events import ReplyReviewed, ReviewFinding
from supportbus_reviewer.knowledge import KnowledgeArticle
from supportbus_reviewer.ports import Review, ReviewCase
from supportbus_reviewer.settings import ReviewerSettings

Ready = Callable[..., ResponseReady]


class FakeReviewer:
    """Scores every reply 0.9 with one polite finding, or raises ``error``; keeps the cases."""

    def __init__(self, error: Exception | None = None, *, failures: int = 1_000) -> None:
        self.cases: list[ReviewCase] = []
        self._error = error
        self._failures = failures

    async def review(self, case: ReviewCase) -> Review:
        self.cases.append(case)
        if self._error is not None and len(self.cases) <= self._failures:
            raise self._error
        finding = ReviewFinding(kind="polite", detail="Could thank the customer.")
        return Review(score=0.9, findings=[finding], model="fake", tokens=12)


async def _handled(
    reviewer: FakeReviewer, articles: dict[str, KnowledgeArticle], *records: bytes
) -> tuple[list[RecordedMessage], list[RecordedMessage]]:
    service_app = build_app(ReviewerSettings(), reviewer=reviewer, knowledge=articles)
    reviews = record_topic(service_app.broker, REVIEWED_TOPIC)
    dlq = record_topic(service_app.broker, dead_letter_topic(RESPONSE_READY))
    async with TestKafkaBroker(service_app.broker) as broker:
        for record in records:
            await broker.publish(record, RESPONSE_READY, key=b"req-1")
    return reviews, dlq


async def test_a_reply_is_reviewed_against_its_cited_articles_and_published(
    ready: Ready, articles: dict[str, KnowledgeArticle]
) -> None:
    reviewer = FakeReviewer()
    event = ready(cited=("kb-lost-card",))
    reviews, dlq = await _handled(reviewer, articles, event.model_dump_json().encode())
    assert not dlq
    (case,) = reviewer.cases
    assert (case.reply, [a.article_id for a in case.articles]) == (event.reply, ["kb-lost-card"])
    (record,) = reviews
    review = ReplyReviewed.model_validate_json(record.body)
    assert (review.verdict, review.score, review.producer, review.reviewer_model) == (
        "approved",
        0.9,
        "reviewer",
        "fake",
    )
    assert review.causation_id == event.event_id
    assert record.key == event.request_id.encode()


async def test_a_handed_off_requests_holding_reply_is_not_reviewed(
    ready: Ready, articles: dict[str, KnowledgeArticle]
) -> None:
    reviewer = FakeReviewer()
    record = ready(route_human=True).model_dump_json().encode()
    assert await _handled(reviewer, articles, record) == ([], [])
    assert reviewer.cases == []


async def test_a_reply_the_model_cannot_review_is_dead_lettered_with_the_reason(
    ready: Ready, articles: dict[str, KnowledgeArticle]
) -> None:
    reviewer = FakeReviewer(ReviewOutputInvalid("the model's answer is not a review (no tool)"))
    record = ready().model_dump_json().encode()
    reviews, dlq = await _handled(reviewer, articles, record)
    assert not reviews
    (letter,) = dlq
    assert letter.body == record
    assert letter.headers[DLQ_HEADER_SERVICE] == "reviewer"
    assert "not a review" in str(letter.headers)
    assert len(reviewer.cases) == 1  # a permanent error: no second attempt


async def test_a_malformed_record_is_dead_lettered_by_the_reviewer(
    articles: dict[str, KnowledgeArticle],
) -> None:
    reviews, dlq = await _handled(FakeReviewer(), articles, b'{"not": "a reply"}')
    assert not reviews
    (letter,) = dlq
    assert letter.headers[DLQ_HEADER_SERVICE] == "reviewer"


async def test_a_review_that_timed_out_is_retried_and_published_once(
    ready: Ready, articles: dict[str, KnowledgeArticle]
) -> None:
    reviewer = FakeReviewer(ReviewTimedOut("the review took over 120 s"), failures=1)
    reviews, dlq = await _handled(reviewer, articles, ready().model_dump_json().encode())
    assert (len(reviewer.cases), len(reviews), dlq) == (2, 1, [])
